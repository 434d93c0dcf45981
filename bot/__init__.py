"""briefbot: a self-hosted news-briefing bot for Slack, Discord and the terminal."""

__version__ = "0.1.0"
USER_AGENT = f"briefbot/{__version__} (+https://github.com/briefbot/briefbot)"
