"""The sandbox's fixed credentials. They open nothing but the sandbox."""

CRAYON = {
    "username": "sandbox-user",
    "password": "sandbox-password",
    "client_id": "sandbox-crayon-client",
    "client_secret": "sandbox-crayon-secret",
}
ADOBE = {"client_id": "sandbox-adobe-client", "client_secret": "sandbox-adobe-secret"}
GRANITE = {"client_id": "sandbox-granite-client", "client_secret": "sandbox-granite-secret"}
EMNIFY = {"application_token": "sandbox-emnify-application-token"}
FLEETIO = {"api_key": "sandbox-fleetio-api-key", "account_token": "sandbox-fleetio-account"}
