"""The clause library and checklist templates."""
