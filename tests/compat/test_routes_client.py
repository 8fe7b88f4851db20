"""The real `openwhisk` npm client's `routes` API against a live `whisklet serve`, and the managed URLs it creates."""

from tests.compat.flows import run_flow


def test_openwhisk_npm_client_creates_lists_serves_and_deletes_routes(whisklet):
    seen = run_flow(whisklet, "routes_flow.mjs")
    base, namespace = seen["basepath"], seen["namespace"]
    assert seen["createdGet"]["gwApiUrl"] == f"{whisklet.url}/api/{namespace}{base}"
    apis = seen["listed"]["apis"]
    assert len(apis) == 1 and apis[0]["value"]["apidoc"]["basePath"] == base
    operations = apis[0]["value"]["apidoc"]["paths"]["/books/{isbn}"]
    assert sorted(operations) == ["get", "post"]
    created = seen["createdPost"]["apidoc"]["paths"]["/books/{isbn}"]["post"]
    assert operations["post"]["x-openwhisk"]["action"] == created["x-openwhisk"]["action"]
    assert operations["get"]["operationId"] == "getBooksIsbn"
    assert base in [api["value"]["apidoc"]["basePath"] for api in seen["listedAll"]["apis"]]
    assert seen["gotByName"]["apis"][0]["value"]["apidoc"]["info"]["title"] == "Book Club"
    assert seen["servedGet"] == {"method": "get", "path": f"{base}/books/42"}
    assert seen["servedPost"] == {"method": "post", "path": f"{base}/books/43", "title": "Dune"}
    assert seen["servedUnknown"] == 404
    assert seen["swaggerCreateWithUnderscore"]["statusCode"] == 502
    assert seen["servedSwagger"]["body"]["method"] == "get"  # a .json target renders the whole result
    assert list(seen["afterVerbDelete"]["apis"][0]["value"]["apidoc"]["paths"]["/books/{isbn}"]) == ["post"]
    assert seen["afterDelete"] == {"apis": []}
    assert seen["deleteMissing"]["statusCode"] == 502
    assert f"API deletion failure: API '{base}' does not exist." in seen["deleteMissing"]["message"]
    assert "Missing mandatory parameters: relpath, operation, action" in seen["createMissingFields"]["message"]
