"""The app's own Flask extension, set up in one place: the settings, the store, the webhook
authenticator and the inbox every request shares (kept in `app.extensions["canvas_ladok"]`)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

from plugin.canvas.webhook_auth import AuthSettings, WebhookAuthenticator
from plugin.intake.inbox import GroupCommit
from plugin.settings import Settings
from plugin.store.db import Store


@dataclass
class CanvasLadok:
    """What the app's requests share."""

    settings: Settings
    store: Store
    authenticator: WebhookAuthenticator
    inbox: GroupCommit


def init_app(app: Flask, settings: Settings) -> None:
    """Create the store and the webhook authenticator for `app`."""
    from plugin.mail import alerts

    store = Store(settings.database_url, settings.sqlite_synchronous)
    auth = WebhookAuthenticator(AuthSettings(
        jwks_url=settings.canvas_jwks_url, jwt_issuer=settings.canvas_jwt_issuer,
        webhook_secret=settings.webhook_secret, webhook_token=settings.webhook_token,
    ), on_unreachable=lambda seconds: alerts.note(
        store, settings, "jwks_unreachable",
        f"{settings.canvas_jwks_url} unreachable for {seconds / 60:.0f} minutes"))
    inbox = GroupCommit(store, settings)
    app.extensions["canvas_ladok"] = CanvasLadok(settings, store, auth, inbox)


def services() -> CanvasLadok:
    """What the current app's requests share."""
    return current_app.extensions["canvas_ladok"]
