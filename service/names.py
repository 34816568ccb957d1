"""The project's one name inside Python, and what is named after it."""

NAME = "dispute_guide"
LOGGER = NAME  # the logger of every module; its lines are the service's JSON log
EXTENSION = NAME  # the Flask app's extensions key of the rules it serves (service.core.Loaded)
CLOSE_CONNECTION = f"{NAME}.close_connection"  # WSGI environ key: close after this answer
# The environ key under which the hot route's lean path (service/fastlane.py) hands Flask the
# error its evaluation of the request failed with: Flask answers that, without a second run.
LANE_FAILURE = f"{NAME}.lane_failure"
