"""The audit key of the tests: the chain is signed with a key of the server configuration, which a test
sets by patching the keyring (the keys configured on the server stay known, so that the entries they
signed still verify)."""

from unittest.mock import patch

TEST_KEY_ID = "test-1"
TEST_KEY = "a test audit key, never a real one"


def keyring_patch(env, current=TEST_KEY_ID, keys=None):
    """A patcher of ``distribution.audit.entry._audit_keyring``: ``current`` signs new entries (None:
    unkeyed), ``keys`` adds keys to those of the server and the test key."""
    Audit = type(env["distribution.audit.entry"])
    configured = Audit._audit_keyring

    def keyring(self):
        _current, server_keys = configured(self)
        return current, dict(server_keys, **{TEST_KEY_ID: TEST_KEY}, **(keys or {}))

    return patch.object(Audit, "_audit_keyring", keyring)
