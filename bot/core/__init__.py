"""The platform-neutral core: models, ports, commands, briefing. Standard library only."""
