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
BAD_WAIT_TIMEOUT = "Timeout must be number of milliseconds up to 60000."
UNSUPPORTED_MEDIA_TYPE = "The request's Content-Type is not supported. Send application/json."
SERVICE_UNAVAILABLE = "The container engine is unavailable; activations cannot run until it is back. Check that dockerd is running."


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
SEQUENCE_NOT_YET = "The specified runtime 'sequence' is not supported by this platform yet."


def malformed(detail: str) -> ApiError:
    return ApiError(400, f"The request content was malformed:\n{detail}")


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
