"""The project's one name inside Python, and what is named after it."""

NAME = "dispute_guide"
LOGGER = NAME  # the logger of every module; its lines are the service's JSON log
EXTENSION = NAME  # the Flask app's extensions key of the rules it serves (service.core.Loaded)
CLOSE_CONNECTION = f"{NAME}.close_connection"  # WSGI environ key: close after this answer
