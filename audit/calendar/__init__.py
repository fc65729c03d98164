"""Calendar subscriptions: the pure iCalendar serialiser, feeds, tokens and downloads."""
