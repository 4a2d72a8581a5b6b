"""Forms of the thread admin: a plain title and a status field, and the actions' reason."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.helpers import ActionForm
from django.utils.translation import gettext_lazy as _

from .. import models
from .filters import STATES
from .status import MAX_REASON, status_json

REASON_HELP = _("Shown to the user in the chat when the thread is locked or closed.")


class ThreadForm(forms.ModelForm):
    """``title`` as one line; the status JSON as a choice of open / locked / closed + reason."""

    title = forms.CharField(
        label=_("title"), required=False, max_length=500, widget=forms.TextInput({"size": 80})
    )
    # Not required: the form of a user who may not change the status has no such field.
    state = forms.ChoiceField(label=_("status"), choices=STATES, required=False)
    reason = forms.CharField(
        label=_("reason"), required=False, max_length=MAX_REASON, help_text=REASON_HELP
    )

    class Meta:
        model = models.Thread
        fields = ("title", "metadata")

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        status = (self.instance.status if self.instance else None) or {}
        if "state" in self.fields:
            self.fields["state"].initial = status.get("type") or "active"
            self.fields["reason"].initial = status.get("reason") or ""

    def clean_title(self) -> str | None:
        return self.cleaned_data["title"].strip() or None

    def status_value(self) -> dict[str, Any] | None:
        """The new status JSON, or ``None`` if the form leaves the status as it was."""
        if not self.cleaned_data.get("state") or not {"state", "reason"} & set(self.changed_data):
            return None
        return status_json(self.cleaned_data["state"], self.cleaned_data.get("reason") or "")


class ThreadActionForm(ActionForm):
    """The list's action bar, with a reason for lock and close."""

    reason = forms.CharField(
        label=_("Reason:"), required=False, max_length=MAX_REASON, help_text=REASON_HELP
    )
