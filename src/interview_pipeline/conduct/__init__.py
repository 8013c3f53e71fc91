"""Interview conduct: the plan, the conductor that runs it, and the evaluation."""
