"""User-facing API errors and their OpenWhisk messages, in one place."""

from __future__ import annotations


class ApiError(Exception):
    """An error answered as `{"error": message, "code": <transaction id>}` with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


AUTH_MISSING = "The resource requires authentication, which was not supplied with the request"
AUTH_INVALID = "The supplied authentication is invalid"
NOT_FOUND = "The requested resource does not exist."
ROUTE_NOT_FOUND = "The requested resource could not be found."
METHOD_NOT_ALLOWED = "The requested method is not allowed for this resource."
ALREADY_EXISTS = "resource already exists"
CONFLICT = "Concurrent modification to resource detected."
WRONG_COLLECTION = "Resource by this name exists but is not in this collection."
ILLEGAL_NAME = "The name of the entity contains illegal characters."
ILLEGAL_NAMESPACE = "The namespace contains illegal characters."
RESERVED_PARAMETERS = "Request defines parameters that are not allowed (e.g., reserved properties)."
UNSUPPORTED_MEDIA_TYPE = "The request's Content-Type is not supported. Send application/json."
ACTIVATION_INTERRUPTED = (
    "The activation was interrupted: Whisklet stopped before it ended, so its result and logs are lost."
)

NOT_HTTP = "The request is not valid HTTP/1.1."


def head_too_large(max_bytes: int) -> str:
    return f"The request's line and headers are larger than allowed: more than {max_bytes} bytes."


def url_too_long(max_bytes: int) -> str:
    return f"The request's URL is longer than allowed: more than {max_bytes} bytes."


def too_many_headers(max_headers: int) -> str:
    return f"The request has more headers than allowed: more than {max_headers}."


def request_head_timeout(seconds: float) -> str:
    return f"The request's line and headers did not arrive within {seconds:g} seconds."


def request_body_timeout(seconds: float) -> str:
    return f"The request's body stopped arriving for {seconds:g} seconds."


def warning(store_error: str) -> str:
    """The `Warning` header of a blocking response whose activation record could not be stored yet."""
    text = f"The activation record is not stored yet and may be lost if Whisklet stops: {store_error}"
    text = " ".join(text.encode("latin-1", "replace").decode("latin-1").split())  # one header line
    return '199 whisklet "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unauthorized(message: str) -> ApiError:
    return ApiError(401, message, {"WWW-Authenticate": 'Basic realm="OpenWhisk secure realm"'})


def forbidden(entity_path: str) -> ApiError:
    return ApiError(403, f"The supplied authentication is not authorized to access '{entity_path}'.")


def too_many_per_minute(count: int, allowed: int) -> ApiError:
    return ApiError(429, f"Too many requests in the last minute (count: {count}, allowed: {allowed}).")


def too_many_concurrent(count: int, allowed: int) -> ApiError:
    return ApiError(429, f"Too many concurrent requests in flight (count: {count}, allowed: {allowed}).")


def request_too_large(size: int, allowed: int) -> ApiError:
    return ApiError(413, f"Request larger than allowed: {size} > {allowed} bytes.")


def field_too_large(field: str, size: int, allowed: int) -> ApiError:
    return ApiError(413, f"{field} larger than allowed: {size} > {allowed} bytes.")


EXEC_UNDEFINED = "exec undefined"
BINDING_OPERATION = "Operation not permitted on package binding."
DOCS_WITH_COUNT = "The parameter 'docs' is not permitted with 'count'."
ACTIVATION_ID_INVALID = "The activation id is not valid."


def malformed(detail: str) -> ApiError:
    return ApiError(400, f"The request content was malformed:\n{detail}")


def nested_too_deep(max_depth: int) -> ApiError:
    """400 for a JSON body whose arrays and objects nest deeper than `max_depth`."""
    return malformed(f"JSON arrays and objects are nested more than {max_depth} levels deep; nest them less.")


def malformed_query(name: str, detail: str) -> ApiError:
    return ApiError(400, f"The query parameter '{name}' was malformed:\n{detail}")


def internal_error(request_id: str) -> str:
    return f"An internal error occurred. The request id is {request_id}; see the server log."


def unsupported_runtime(kind: str, valid: list[str]) -> ApiError:
    values = ", ".join(f"'{k}'" for k in valid)
    message = f"The specified runtime '{kind}' is not supported by this platform. Valid values are: {values}."
    return ApiError(400, message)


def bad_wait_timeout(max_ms: int) -> ApiError:
    return ApiError(400, f"Timeout must be number of milliseconds up to {max_ms}.")


# packages, triggers, rules and sequences (openwhisk-api.md §2.4-2.6, §6)
DEFAULT_PACKAGE_RESERVED = "Package name 'default' is reserved."
BINDING_DOES_NOT_EXIST = "Binding references a package that does not exist."
BINDING_TO_BINDING = "Cannot bind to another package binding."
PACKAGE_TO_BINDING = "Resource is a package and cannot be converted into a binding."
FEED_NAME_INVALID = "Feed name is not valid"
RULE_NEEDS_TRIGGER_AND_ACTION = "rule requires a valid trigger and a valid action"
RULE_WITHOUT_TRIGGER = "Only rules with existing triggers can be activated"
RULE_STATUS_INVALID = "status must be 'active' or 'inactive'"
SEQUENCE_EMPTY = "No component specified for the sequence."
SEQUENCE_COMPONENT_MISSING = "Sequence component does not exist."
SEQUENCE_SELF_REFERENCE = "Sequence may not refer to itself."
SEQUENCE_TOO_LONG = "Too many actions in the sequence."
SEQUENCE_FAILED = "Sequence failed."


def package_not_empty(count: int) -> ApiError:
    return ApiError(409, f"Package not empty (contains {count} entities). Set force param or delete package contents.")


def rule_reference_missing(kind: str, fully_qualified_name: str) -> ApiError:
    """400 `trigger /ns/t does not exist` or `action /ns/a does not exist`."""
    return ApiError(400, f"{kind} /{fully_qualified_name} does not exist")


def sequence_component_timeout(activation_id: str) -> str:
    return f"Timeout reached when retrieving activation {activation_id} for sequence component."
BUILTIN_FAILED = "The system action failed unexpectedly; see the server log."


# web actions (openwhisk-api.md §4)
WEB_AUTH_FAILED = "Authentication is possible but has failed or not yet been provided."
WEB_PROCESSING_ERROR = "There was an error processing your request."
RESPONSE_NOT_READY = "Response not yet ready."
PROPERTY_NOT_FOUND = "Response does not include requested property."
HTTP_UNKNOWN_CONTENT_TYPE = "Response did not specify a known content-type."
HTTP_CONTENT_TYPE_MISMATCH = "Response type in header did not match generated content type."


def invalid_media(media_type: str) -> ApiError:
    """400 `Response is not valid '<media type>'.`: a result the extension cannot render."""
    return ApiError(400, f"Response is not valid '{media_type}'.")


def not_fully_qualified(name: str) -> str:
    return f"The name '{name}' is not a valid fully qualified entity name (/namespace[/package]/name)."
