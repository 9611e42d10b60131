"""Where users meet SupportLoop: one conversation service, and thin adapters per platform."""
