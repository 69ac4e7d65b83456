"""Users, roles and access tokens of the API and UI.

- `roles`: `Role`, `Permission`, `role_allows` (pure);
- `passwords`: scrypt hashing (pure CPU);
- `tokens`: JWT issue/decode with an injected clock (pure);
- `signing_key`: the token signing key, generated under the home folder if not configured;
- `users`: async user management over the database port;
- `stamps`: the per-request recheck of a token against its user (short-lived cache);
- `verified`: verified tokens remembered until they expire.
"""

from airflow_sc.auth.passwords import generate_password, hash_password, verify_password
from airflow_sc.auth.roles import ROLE_PERMISSIONS, Permission, Role, role_allows
from airflow_sc.auth.signing_key import (
    SIGNING_KEY_FILE,
    SigningKeyError,
    load_or_create_signing_key,
)
from airflow_sc.auth.stamps import DEFAULT_RECHECK, UserStamps
from airflow_sc.auth.tokens import (
    AccessToken,
    InvalidToken,
    credential_stamp,
    decode_token,
    issue_token,
)
from airflow_sc.auth.users import (
    ADMIN_PASSWORD_FILE,
    User,
    UserError,
    authenticate,
    create_user,
    current_stamp,
    delete_user,
    ensure_admin_user,
    get_user,
    list_users,
    reset_password,
)
from airflow_sc.auth.verified import VerifiedTokens

__all__ = [
    "ADMIN_PASSWORD_FILE",
    "DEFAULT_RECHECK",
    "ROLE_PERMISSIONS",
    "SIGNING_KEY_FILE",
    "AccessToken",
    "InvalidToken",
    "Permission",
    "Role",
    "SigningKeyError",
    "User",
    "UserError",
    "UserStamps",
    "VerifiedTokens",
    "authenticate",
    "create_user",
    "credential_stamp",
    "current_stamp",
    "decode_token",
    "delete_user",
    "ensure_admin_user",
    "generate_password",
    "get_user",
    "hash_password",
    "issue_token",
    "list_users",
    "load_or_create_signing_key",
    "reset_password",
    "role_allows",
    "verify_password",
]
