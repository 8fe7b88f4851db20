"""gateway/routes/document.py: endpoints added to and removed from Swagger documents (§3.4, §5)."""

from __future__ import annotations

from gateway.routes.document import Endpoint, add_endpoint, base_document, has_operations, remove_endpoints, switch_cases


def book_endpoint(verb: str = "get", response_type: str = "json", secure_key: object = None) -> Endpoint:
    return Endpoint("/books/{isbn}", verb, "guest", "club/getBooks", response_type, "https://host", [], secure_key)


def test_an_endpoint_is_added_with_its_operation_id_web_url_and_switch_case():
    doc = add_endpoint(base_document("Book Club", "/club"), book_endpoint())
    operation = doc["paths"]["/books/{isbn}"]["get"]
    assert operation["operationId"] == "getBooksIsbn"
    assert operation["x-openwhisk"] == {"url": "https://host/api/v1/web/guest/club/getBooks.json",
                                        "namespace": "guest", "package": "club", "action": "getBooks"}
    assert switch_cases(doc) == [{"operations": ["getBooksIsbn"], "execute": [
        {"invoke": {"target-url": "https://host/api/v1/web/guest/club/getBooks.json", "verb": "keep"}}]}]


def test_http_targets_carry_the_request_path_and_a_secure_key_becomes_a_header():
    doc = add_endpoint(base_document("/club", "/club"), book_endpoint(response_type="http", secure_key=1234))
    steps = switch_cases(doc)[0]["execute"]
    assert steps[0]["invoke"]["target-url"].endswith("getBooks.http$(request.path)")
    assert steps[1] == {"set-variable": {"actions": [{"set": "message.headers.X-Require-Whisk-Auth", "value": 1234}]}}


def test_the_same_verb_again_replaces_the_operation_and_its_case():
    doc = add_endpoint(base_document("/club", "/club"), book_endpoint())
    doc = add_endpoint(doc, book_endpoint(response_type="text"))
    assert len(switch_cases(doc)) == 1
    assert doc["paths"]["/books/{isbn}"]["get"]["x-openwhisk"]["url"].endswith(".text")


def test_removing_the_last_verb_removes_the_path_and_leaves_no_operations():
    doc = add_endpoint(add_endpoint(base_document("/club", "/club"), book_endpoint()), book_endpoint("post"))
    doc = remove_endpoints(doc, "/books/{isbn}", "get")
    assert list(doc["paths"]["/books/{isbn}"]) == ["post"] and len(switch_cases(doc)) == 1
    doc = remove_endpoints(doc, "/books/{isbn}", None)
    assert doc["paths"] == {} and switch_cases(doc) == [] and not has_operations(doc)
