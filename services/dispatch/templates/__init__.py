"""Message templates: sandboxed Jinja2, per shop and locale, email parts and measured SMS.

Pure: files are read once by `TemplateStore.load`; rendering does no I/O. See README.md for the
file layout, the resolution order and what templates can use.
"""

from services.dispatch.templates.errors import RenderError, TemplateLoadError
from services.dispatch.templates.sms import SmsSize, measure
from services.dispatch.templates.store import RenderedEmail, RenderedSms, TemplateStore
from services.dispatch.templates.variables import (
    MessageLinks,
    RecipientView,
    ShopBrand,
    render_variables,
)

__all__ = [
    "MessageLinks",
    "RecipientView",
    "RenderError",
    "RenderedEmail",
    "RenderedSms",
    "ShopBrand",
    "SmsSize",
    "TemplateLoadError",
    "TemplateStore",
    "measure",
    "render_variables",
]
