"""A person signs in to a node's pages in a real browser, through a real OpenID provider.

Debian's Chromium (Playwright) opens the node's sign-in page on ``http://127.0.0.1``,
follows "Sign in with ..." to panva's ``oidc-provider`` (a Node.js process), logs in and
consents on the provider's own pages, and lands back on the situation page signed in:
the browser itself keeps the node's ``Secure`` cookies on loopback, sends the ``Lax``
state cookie on the provider's redirect back, and the session cookie after it. Signing
out ends the session: the browser's old cookie opens nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import launched_chromium
from tests.nodes import built_federation, served_node
from tests.oidc_provider import Client, running_provider

SECRET = "browser test client secret"

pytestmark = pytest.mark.slow


def test_a_person_signs_in_and_out_in_chromium(tmp_path: Path) -> None:
    fed = built_federation(tmp_path / "fed", ("mission", "dpa"))
    handle = fed.nodes["dpa"]
    secret = tmp_path / "client-secret"
    secret.write_text(SECRET)
    os.chmod(secret, 0o600)
    client = Client("dpa-pages", SECRET, redirect_uris=(handle.url + "/ui/oidc/callback",))
    with running_provider(clients=[client]) as op:
        oidc = {
            "issuer": op.issuer,
            "client_id": client.client_id,
            "client_secret_file": secret,
            "scopes": ["openid", "profile", "email", "groups"],
            "role_map": {"analysts": "analyst"},
            "provider_name": "the agency's sign-in",
        }
        with served_node(handle, oidc=oidc), launched_chromium() as browser:
            context = browser.new_context()
            try:
                page = context.new_page()
                page.goto(handle.url + "/ui/situation")
                assert page.url.endswith("/ui/login")
                page.click("#oidc-sign-in")
                page.wait_for_url(op.issuer + "/**")  # the provider's own login page
                page.fill("input[name=login]", "alice")
                page.fill("input[name=password]", "any password")
                page.click("button[type=submit]")
                page.wait_for_selector("button[type=submit]")  # the consent page
                page.click("button[type=submit]")
                page.wait_for_url(handle.url + "/ui/situation")
                assert page.inner_text("#signed-in-as") == "Signed in as Alice Analyst"
                cookies = {c["name"]: c for c in context.cookies(handle.url)}
                session = cookies["clearinghouse_session"]
                assert session["secure"] and session["httpOnly"] and session["sameSite"] == "Lax"

                page.click("#sign-out")
                page.wait_for_url(handle.url + "/ui/login")
                # The old cookie, put back by hand, is worth nothing: ended on the server.
                context.add_cookies([session])  # type: ignore[list-item]
                page.goto(handle.url + "/ui/situation")
                assert page.url.endswith("/ui/login")
            finally:
                context.close()
