"""Whether an API document may be stored: OpenWhisk's checks, Apache's gateway's, and Whisklet's bounds.

Each check returns the message a client shows (`API creation failure: ` is added by the caller), or
None. Work is linear in the document, which the request body bound and the nesting bound keep small.
"""

from __future__ import annotations

from typing import Any

from gateway.routes.document import REQUEST_PATH, operation_count
from gateway.routes.paths import parameter_name, path_parameters, path_problem, segments, verb_problem
from gateway.routes.targets import TargetProblem, operation_target

MAX_DOC_BYTES = 256 * 1024
"""An API document's size once encoded."""
MAX_OPERATIONS_PER_API = 200
MAX_APIS_PER_NAMESPACE = 100
MAX_OPERATIONS_PER_NAMESPACE = 1000
"""Routes (path + verb) of one namespace, all its APIs together."""


def document_problem(doc: dict[str, Any], namespace: str) -> str | None:
    """Why `doc` cannot be `namespace`'s API, or None; every mapped operation must run a web action
    of `namespace` itself."""
    base_path = doc.get("basePath")
    if not isinstance(base_path, str):
        return "Error: basePath must be a string."
    if any(parameter_name(part) is not None for part in segments(base_path)):
        return f"The base path ({base_path}) cannot have parameters. Only the relative path supports path parameters."
    problem = path_problem(base_path, "basePath")
    if problem is not None:
        return f"Error: {problem}"
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not any(key.startswith("/") for key in paths):
        return "Error: Empty resources object."
    if operation_count(doc) > MAX_OPERATIONS_PER_API:
        return f"Error: An API may have at most {MAX_OPERATIONS_PER_API} operations (path and verb)."
    for path, operations in paths.items():
        if not path.startswith("/"):
            continue  # aio's documents carry non-path keys such as "openwhisk"; clients skip them too
        problem = path_problem(path, "resource path")
        if problem is not None:
            return f"Error: {problem}"
        if not isinstance(operations, dict) or not operations:
            return f"Error: The path '{path[:256]}' has no operations."
        for verb, operation in operations.items():
            problem = verb_problem(verb) or _operation_problem(doc, path, verb, operation, namespace)
            if problem is not None:
                return problem if problem.startswith("The ") else f"Error: {problem}"
    return None


def _operation_problem(doc: dict[str, Any], path: str, verb: str, operation: Any, namespace: str) -> str | None:
    if not isinstance(operation, dict):
        return f"The operation '{verb}' of path '{path[:256]}' is not an object."
    try:
        target = operation_target(doc, operation)
    except TargetProblem as problem:
        return f"{str(problem)[:1].upper()}{str(problem)[1:]}."
    if target is None:
        return None  # an operation mapped to no action is legal; it answers 404
    if target.web.namespace != namespace:
        return (f"The operation '{verb}' of path '{path[:256]}' runs an action of namespace"
                f" '{target.web.namespace}': a route may only run web actions of its own namespace '{namespace}'.")
    names = path_parameters(path)
    if not names:
        return None
    op_id = operation.get("operationId")
    if target.web.extension != "http":
        return "The action must use a response type of '.http' in order to receive the path parameters."
    if not target.request_path:
        return (f"The target-url for operationId '{op_id}' must end in '{REQUEST_PATH}' in order for actions to"
                " receive the path parameters.")
    declared = {
        parameter.get("name")
        for parameter in [*_list(doc["paths"][path].get("parameters")), *_list(operation.get("parameters"))]
        if isinstance(parameter, dict)
    }
    for name in names:
        if name not in declared:
            return (f"The parameter '{name}' defined in path '{path}' does not match any of the parameters defined"
                    " for the path in the swagger file.")
    return None


def namespace_problem(api_count: int, operations: int) -> str | None:
    """Why a namespace may not have `api_count` APIs with `operations` routes in all, or None."""
    if api_count > MAX_APIS_PER_NAMESPACE:
        return f"Error: A namespace may have at most {MAX_APIS_PER_NAMESPACE} APIs; delete one first."
    if operations > MAX_OPERATIONS_PER_NAMESPACE:
        return (f"Error: A namespace may have at most {MAX_OPERATIONS_PER_NAMESPACE} routes (path and verb)"
                f" across its APIs; this would make {operations}. Delete some first.")
    return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
