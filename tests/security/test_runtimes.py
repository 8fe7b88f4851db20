"""A tenant against the runtimes: the shared pre-installed modules stay read-only for every kind, a zip
action's `node_modules` links never lead out of its directory, and a kind is never a path."""

from __future__ import annotations

import base64
import io
import json
import stat
import zipfile

import pytest

from tests.integration.actions import NS, invoke, put_action, unique
from tests.security.sandbox_hostile import hostile_whisklet, tenant  # noqa: F401 (fixtures)

pytestmark = pytest.mark.docker

KINDS = ("nodejs:20", "nodejs:22", "nodejs:24")

# Tries every way of changing the shared module tree, then reports what each attempt did and whether
# `openwhisk` still loads as the platform installed it.
TAMPER = """
const fs = require('fs');
function attempt(f) { try { f(); return 'done'; } catch (e) { return e.code || String(e); } }
function main() {
  const shared = '/usr/local/lib/node_modules';
  return {
    overwrite: attempt(() => fs.writeFileSync(shared + '/openwhisk/lib/main.js', 'module.exports = 1;')),
    create: attempt(() => fs.writeFileSync(shared + '/evil.js', 'x')),
    remove: attempt(() => fs.rmSync(shared + '/express', {recursive: true})),
    replaceLink: attempt(() => { fs.unlinkSync('/node_modules'); fs.symlinkSync('/tmp', '/node_modules'); }),
    chmod: attempt(() => fs.chmodSync(shared + '/openwhisk', 0o777)),
    openwhisk: typeof require('openwhisk'),
  };
}
"""


@pytest.mark.parametrize("kind", KINDS)
def test_an_action_cannot_write_into_the_shared_module_tree(tenant, kind):
    name = unique("tamper")
    put_action(tenant, name, TAMPER, kind=kind)
    first = invoke(tenant, name, result=True)
    assert first.status_code == 200, first.text
    attempts = first.json()
    assert attempts.pop("openwhisk") == "function"
    refused = ("EROFS", "EACCES", "EPERM", "Read-only file system")  # Node 24's rmSync gives no code
    assert all(any(r in outcome for r in refused) for outcome in attempts.values()), attempts
    again = invoke(tenant, name, result=True).json()  # a fresh sandbox still finds the modules intact
    assert again["openwhisk"] == "function"


def zip_with_link(link_name: str, target: str) -> str:
    """A zip action whose `link_name` is a symbolic link to `target` (as `zip --symlinks` stores one)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("package.json", json.dumps({"name": "linked", "main": "index.js"}))
        archive.writestr("index.js", "exports.main = () => ({fetch: require('node-fetch').marker || 'shared'});")
        link = zipfile.ZipInfo(link_name)
        link.create_system = 3  # unix
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, target)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("target", [
    "/usr/local/lib/node_modules/openwhisk",  # absolute: into the shared tree
    "../../../../../etc",  # relative, climbing out of the action's directory
    "/run/whisklet",  # the sandbox's host directory
])
def test_a_zip_actions_node_modules_link_out_of_its_directory_is_refused(tenant, target):
    name = unique("zlink")
    code = zip_with_link("node_modules/node-fetch", target)
    assert tenant.put(f"{NS}/actions/{name}", json={"exec": {"kind": "nodejs:24", "code": code}}).status_code == 200
    response = invoke(tenant, name)
    assert response.status_code == 502
    assert response.json()["response"]["result"]["error"].endswith(
        "the symbolic link 'node_modules/node-fetch' points outside the action's directory.")


@pytest.mark.parametrize("kind", ["nodejs:../../x", "nodejs:24/../20", "../nodejs:24", "nodejs:24\x00"])
def test_a_kind_with_path_characters_is_refused_with_the_kinds_message(tenant, kind):
    response = tenant.put(f"{NS}/actions/{unique('pathkind')}",
                          json={"exec": {"kind": kind, "code": "function main() { return {}; }"}})
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"The specified runtime '{kind}' is not supported by this platform. "
        "Valid values are: 'nodejs:20', 'nodejs:22', 'nodejs:24'.")
