"""All models, one aggregate per module; importing this package registers every table."""

from audit.models.audit import (
    AgendaSession,
    Audit,
    AuditKind,
    AuditStatus,
    AuditTeamMember,
    Programme,
    ProgrammeStatus,
    SessionKind,
    TeamRole,
    ThirdPartyType,
)
from audit.models.calendar import CalendarToken, FeedKind
from audit.models.checklist import (
    AnswerType,
    ChecklistQuestion,
    ChecklistSection,
    ChecklistTemplate,
    ChecklistTemplateVersion,
    VersionStatus,
)
from audit.models.conduct import (
    AppliedMutation,
    AuditReport,
    ChecklistAnswer,
    Evidence,
    Verdict,
)
from audit.models.finding import (
    EIGHT_D_DISCIPLINES,
    ISHIKAWA_CATEGORIES,
    ActionKind,
    ActionStatus,
    CorrectiveAction,
    CostCategory,
    DeadlinePolicy,
    ExtensionRequest,
    ExtensionStatus,
    Finding,
    FindingStatus,
    Grade,
    PoorQualityCost,
    RootCauseMethod,
    ScarStage,
)
from audit.models.library import Clause, ClauseTopic, Standard, StandardStatus
from audit.models.money import ExchangeRate
from audit.models.notification import Notification, NotificationPreference
from audit.models.organisation import (
    ApprovalStatus,
    Certificate,
    CertificateStatus,
    CertificationBody,
    RiskClass,
    Site,
    SiteHoliday,
    Supplier,
    Unit,
    UnitKind,
)
from audit.models.programme import (
    AuditTrigger,
    JobRun,
    PlannerRun,
    ProgrammeRule,
    RuleKind,
    SchedulerLease,
    TriggerKind,
)
from audit.models.quality import (
    Complaint,
    ComplaintStatus,
    ContextCategory,
    ContextChange,
    Direction,
    Effectiveness,
    Frequency,
    IndicatorResult,
    ObjectiveMeasurement,
    ProcessIndicator,
    QualityObjective,
    Risk,
    RiskAction,
    RiskActionStatus,
    RiskKind,
    SatisfactionResult,
    Severity,
)
from audit.models.review import ManagementReview, OutputKind, ReviewAction, ReviewStatus
from audit.models.storage import StoredFile
from audit.models.trail import TrailEntry
from audit.models.types import NaiveDatetimeError, UTCDateTime, utcnow
from audit.models.user import Qualification, QualificationLevel, Role, TrainingRecord, User, UserRole

__all__ = [
    "AgendaSession", "Notification", "SessionKind",
    "CalendarToken", "FeedKind", "ExchangeRate",
    "AppliedMutation", "AuditReport",
    "ActionKind", "ActionStatus", "AnswerType", "ApprovalStatus", "Audit", "AuditKind",
    "AuditStatus", "AuditTeamMember", "Certificate", "CertificateStatus", "CertificationBody",
    "ChecklistAnswer", "ChecklistQuestion", "ChecklistSection", "ChecklistTemplate",
    "ChecklistTemplateVersion", "Clause", "ClauseTopic", "CorrectiveAction", "Evidence", "Finding",
    "FindingStatus", "Grade", "NaiveDatetimeError", "Programme", "ProgrammeStatus",
    "Qualification", "QualificationLevel", "RiskClass", "Role", "Site", "SiteHoliday",
    "Standard", "StandardStatus", "StoredFile", "Supplier", "TeamRole", "ThirdPartyType", "TrailEntry",
    "TrainingRecord", "UTCDateTime", "Unit", "UnitKind", "User", "UserRole", "Verdict",
    "VersionStatus", "utcnow",
    "JobRun", "NotificationPreference", "PlannerRun", "ProgrammeRule", "RuleKind", "SchedulerLease",
    "AuditTrigger", "TriggerKind",
    "EIGHT_D_DISCIPLINES", "ISHIKAWA_CATEGORIES", "CostCategory", "DeadlinePolicy", "ExtensionRequest",
    "ExtensionStatus", "PoorQualityCost", "RootCauseMethod", "ScarStage",
    "Complaint", "ComplaintStatus", "ContextCategory", "ContextChange", "Direction",
    "Effectiveness", "Frequency", "IndicatorResult", "ObjectiveMeasurement", "ProcessIndicator",
    "QualityObjective", "Risk", "RiskAction", "RiskActionStatus", "RiskKind", "SatisfactionResult", "Severity",
    "ManagementReview", "OutputKind", "ReviewAction", "ReviewStatus",
]
