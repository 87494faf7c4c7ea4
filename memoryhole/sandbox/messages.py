"""The words the simulated platform shows, copied exactly from shared/platform-facts.md.

This table is the sandbox's own copy, kept apart from the classifier's table on purpose: if one
of them drifts from the platform facts, tests that run the crawler against the sandbox catch it.
Each cause maps to the variants the platform is known to use; the first variant is the default.
"""

from __future__ import annotations

POST_MESSAGES: dict[str, tuple[str, ...]] = {
    "author_deleted": ("抱歉，此微博已被作者删除。",),
    "platform_removed": (
        "该微博因被多人投诉，根据《微博社区公约》，已被删除。",
        "该微博因违反《微博社区公约》的相关规定，已被删除",
    ),
    "removed_unattributed": ("抱歉，此微博已被删除。", "该微博不存在"),
    "restricted": (
        "抱歉，由于作者设置，你暂时没有这条微博的查看权限哦。",
        "抱歉，作者已设置仅展示半年内微博，此微博已不可见。",
    ),
}

ACCOUNT_MESSAGES: dict[str, tuple[str, ...]] = {
    "account_suspended": (
        "该账号因被投诉违反法律法规和《微博社区公约》的相关规定，现已无法查看。",
        "该账号因被投诉违反《微博社区公约》的相关规定，现已无法查看。",
    ),
    "account_closed": ("该账号因用户自行申请关闭，现已无法查看。", "该账号已关闭，现无法查看。"),
    "account_locked": (
        "该账号行为异常，存在安全风险，用户验证之前暂时不能查看。",
        "该账号内容存在风险，用户验证之前暂时不能查看。",
    ),
}

COMPLAINTS = POST_MESSAGES["platform_removed"][0]
RULES = POST_MESSAGES["platform_removed"][1]
PRIVACY = POST_MESSAGES["restricted"][0]
HALF_YEAR = POST_MESSAGES["restricted"][1]
NOT_FOUND = "该微博不存在"
DEFAULT_UNKNOWN = "此微博暂时无法查看（代码 7731）"
NOTHING_HERE = "这里还没有内容"
LOGIN_WALL = "前方有点拥堵，请登录后使用"
CAPTCHA_URL = "https://m.weibo.cn/captcha?scene=limit&referer=/"
NOT_VISIBLE_ERRNO = "20101"

#: Account states and the cause their posts get in the ground truth.
STATE_CAUSE: dict[str, str] = {
    "suspended": "account_suspended",
    "closed": "account_closed",
    "locked": "account_locked",
}

#: The closed outcome vocabulary (mirrors corpus/reasons.py; the sandbox does not import it).
CAUSES: tuple[str, ...] = (
    "author_deleted",
    "platform_removed",
    "removed_unattributed",
    "restricted",
    "account_suspended",
    "account_closed",
    "account_locked",
    "unknown",
)
