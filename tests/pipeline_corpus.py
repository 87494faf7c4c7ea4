"""A small corpus made by the real pipeline, for the publishing, release and browser tests.

The simulated platform runs on 127.0.0.1 with a driven clock; the real CLI crawls it three times.
Between the crawls the authors edit posts to texts the tests need (Chinese search terms, an
@mention, a screen name, a raw account id and raw post ids written out, a URL), then the platform censors,
deletes and answers with unknown words. Account ids are 10 digits like Weibo's. The last account
is marked a public figure in the plan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from e2e import crawl_once

from memoryhole.sandbox import ManualClock, SandboxServer, load_scenario
from memoryhole.sandbox.ids import mid_to_bid

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FIRST_UID = 1642634100
ACCOUNTS = [str(FIRST_UID + i) for i in range(4)]
PUBLIC_FIGURE = ACCOUNTS[-1]

# Texts the tests look for. {name1} is the screen name of ACCOUNTS[1], {uid2} a raw account id.
CANTEEN = "今天高校里的食堂又涨价了，学生们都很不满。@{name1} 你怎么看？"    # 高校 … 食堂, apart
CAMPUS_ONLY = "高校开学第一天，天气很好。"                                  # 高校 only
CANTEEN_ONLY = "这家食堂的饭菜真不错 https://t.cn/A6abcdef 推荐"             # 食堂 only
NAMED = "转发一下{name1}的看法，还有用户{uid2}也说过。"                      # name and id, no @
FIGURE = "我是{figure}，欢迎关注。"                                           # a public figure
# Raw post ids written out: after "mid", glued to a word, in a URL without a scheme, as a bid.
POST_IDS = "原帖 mid {mid}，见 weibo.com/{uid}/{mid} 或 post{mid}，短码 {bid}"


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


@dataclass
class PipelineCorpus:
    data: Path
    plan: Path
    screen_names: dict[str, str]                 # account id -> screen name
    posts: dict[str, str] = field(default_factory=dict)   # label -> post id
    texts: dict[str, str] = field(default_factory=dict)   # label -> text as posted

    @property
    def private_accounts(self) -> list[str]:
        return [a for a in ACCOUNTS if a != PUBLIC_FIGURE]


def write_plan(path: Path, base_url: str) -> Path:
    plan = {
        "name": "publishing-test",
        "platform": "weibo", "base_url": base_url,
        "watchlists": [{"name": "test", "accounts": ACCOUNTS, "every": "1m", "pages": 2,
                        "public_figures": [PUBLIC_FIGURE]}],
        "politeness": {"delay": 0, "concurrency": 4, "timeout": "5s", "retries": 3},
    }
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    return path


def build(root: Path) -> PipelineCorpus:
    """Crawl the simulated platform three times into ROOT/data; return what the tests need."""
    scenario = load_scenario({
        "seed": 5, "start": T0.isoformat(), "duration": 0,
        "accounts": {"count": len(ACCOUNTS), "first_uid": FIRST_UID, "pinned_share": 0,
                     "initial_posts": 12, "posts_per_hour": 0},
        "author_delete": {"share": 0}, "censor": {"share": 0}, "restrict": {"share": 0},
        "restore": {"share": 0}, "suspend": {"accounts": 0}, "unknown": {"share": 0},
        "faults": {"rate": 0},
    })
    data = root / "data"
    with SandboxServer(scenario, clock=ManualClock(T0)) as server:
        world = server.world
        truth = world.truth(T0)
        names = {a["account_id"]: a["screen_name"] for a in truth["accounts"]}
        newest = {a: sorted((p["post_id"] for p in truth["posts"] if p["account_id"] == a),
                            key=int, reverse=True) for a in ACCOUNTS}
        plan = write_plan(root / "plan.yaml", server.url)
        corpus = PipelineCorpus(data=data, plan=plan, screen_names=names)
        a0, a1, a2, a3 = ACCOUNTS
        texts = {
            "canteen": (newest[a0][0], CANTEEN.format(name1=names[a1])),
            "campus": (newest[a0][1], CAMPUS_ONLY),
            "canteen_only": (newest[a2][0], CANTEEN_ONLY),
            "named": (newest[a2][1], NAMED.format(name1=names[a1], uid2=a2)),
            "figure": (newest[a3][0], FIGURE.format(figure=names[a3])),
            "post_ids": (newest[a1][0], POST_IDS.format(mid=newest[a0][0], uid=a0,
                                                        bid=mid_to_bid(newest[a0][0]))),
        }
        server.clock.set(minutes(1))
        crawl_once(plan, data, minutes(1))
        for label, (post_id, text) in texts.items():
            world.schedule(minutes(1.5), "edit", post_id=post_id, text=text)
            corpus.posts[label] = post_id
            corpus.texts[label] = text
        server.clock.set(minutes(2))
        crawl_once(plan, data, minutes(2))                 # sees the edits (new versions)
        world.schedule(minutes(2.5), "censor_rules", post_id=texts["canteen"][0])
        world.schedule(minutes(2.5), "author_delete", post_id=texts["campus"][0])
        world.schedule(minutes(2.5), "unknown", post_id=newest[a1][2])
        world.schedule(minutes(2.5), "censor_complaints", post_id=texts["figure"][0])
        corpus.posts["unknown"] = newest[a1][2]
        server.clock.set(minutes(3))
        crawl_once(plan, data, minutes(3))                 # finds them gone, probes, removes
    (root / "truth-names.json").write_text(json.dumps(names, ensure_ascii=False))
    return corpus
