"""The console's errors: each becomes a page with its status code, never a 500."""

from __future__ import annotations


class ConsoleError(Exception):
    """A refusal or failure shown to the user as a page or a JSON body."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotSignedIn(ConsoleError):
    """No valid session: the browser is sent to the login page."""

    status = 401
    code = "not_signed_in"


class RoleRefused(ConsoleError):
    """The user's role may not open this page or do this action."""

    status = 403
    code = "role_refused"


class CsrfRejected(ConsoleError):
    """The form did not carry the session's CSRF token."""

    status = 403
    code = "csrf_rejected"


class UploadTooLarge(ConsoleError):
    """The uploaded file exceeds the console's limit."""

    status = 413
    code = "upload_too_large"


class ServiceUnavailable(ConsoleError):
    """A service the page needs did not answer."""

    status = 503
    code = "service_unavailable"


class ServiceRefused(ConsoleError):
    """A service answered with a 4xx; its ``detail``, ``code`` and line come along."""

    def __init__(self, status: int, detail: str, code: str, *, line_no: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.line_no = line_no


class InvalidForm(ConsoleError):
    """A form field the console checks itself (an amount, an id) is malformed."""

    status = 422
    code = "invalid_input"
