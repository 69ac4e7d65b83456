"""Which directories a task needs, and which of their ancestors its user cannot pass:
the pure planning of the covers, on a file system described as data."""

from __future__ import annotations

from airflow_sc.impersonation.paths import (
    Cover,
    Entry,
    Lookup,
    can_search,
    first_blocked,
    needed_paths,
    plan_covers,
)

TASK = 999
TASK_GROUP = 999
DIR_0755 = Entry(0o40755, 0, 0)
DIR_0700 = Entry(0o40700, 0, 0)


def lookup_in(tree: dict[str, Entry]) -> Lookup:
    return tree.get


#: /root is 0700 and holds the interpreter and a 0700 home with the dags folder.
TREE = {
    "/": DIR_0755,
    "/root": DIR_0700,
    "/root/.pyenv": DIR_0755,
    "/root/.pyenv/versions/3.11": DIR_0755,
    "/root/.pyenv/versions": DIR_0755,
    "/root/.pyenv/versions/3.11/lib": DIR_0755,
    "/root/.pyenv/versions/3.11/lib/python3.11": DIR_0755,
    "/root/home": DIR_0700,
    "/root/home/dags": DIR_0755,
    "/srv": DIR_0755,
    "/srv/app": DIR_0755,
    "/srv/app/venv": DIR_0755,
    "/srv/app/venv/secret": DIR_0700,
    "/srv/app/venv/secret/lib": DIR_0755,
}


def test_search_permission_follows_owner_then_group_then_others() -> None:
    assert can_search(Entry(0o40700, TASK, 0), TASK, [])
    assert not can_search(Entry(0o40070, TASK, TASK_GROUP), TASK, [TASK_GROUP])  # owner bits
    assert can_search(Entry(0o40710, 0, TASK_GROUP), TASK, [TASK_GROUP])
    assert not can_search(Entry(0o40701, 0, TASK_GROUP), TASK, [TASK_GROUP])  # group bits
    assert can_search(Entry(0o40701, 0, 0), TASK, [TASK_GROUP])
    assert not can_search(Entry(0o40750, 0, 0), TASK, [TASK_GROUP])
    assert can_search(Entry(0o40000, 5, 5), 0, [])  # root passes everywhere


def test_the_first_blocked_ancestor_is_the_highest_one() -> None:
    lookup = lookup_in(TREE)
    assert first_blocked("/root/home/dags", TASK, [TASK], lookup) == "/root"
    assert first_blocked("/srv/app/venv/secret/lib", TASK, [TASK], lookup) == (
        "/srv/app/venv/secret"
    )
    assert first_blocked("/srv/app/venv", TASK, [TASK], lookup) is None
    # The path's own mode is not an ancestor's: it is the path's business.
    assert first_blocked("/root", TASK, [TASK], lookup) is None


def test_one_cover_per_blocked_directory_exposing_only_the_topmost_needed_paths() -> None:
    needed = [
        "/root/.pyenv/versions/3.11",
        "/root/.pyenv/versions/3.11/lib/python3.11",
        "/root/home/dags",
        "/srv/app/venv/secret/lib",
        "/srv/app/venv",
        "/root",  # the server's working directory on sys.path: blocked by its own mode
        "/nowhere/at/all",
        "relative",
    ]
    covers = plan_covers(needed, TASK, [TASK], lookup_in(TREE))
    assert covers == (
        Cover("/root", ("/root/.pyenv/versions/3.11", "/root/home/dags")),
        Cover("/srv/app/venv/secret", ("/srv/app/venv/secret/lib",)),
    )


def test_after_a_pass_the_next_one_goes_deeper_until_nothing_is_blocked() -> None:
    tree = {
        "/": DIR_0755,
        "/root": DIR_0700,
        "/root/x": DIR_0755,
        "/root/x/private": DIR_0700,
        "/root/x/private/lib": DIR_0755,
    }
    needed = ["/root/x", "/root/x/private/lib"]
    first = plan_covers(needed, TASK, [TASK], lookup_in(tree))
    assert first == (Cover("/root", ("/root/x",)),)
    tree["/root"] = DIR_0755  # what the first cover's tmpfs looks like
    second = plan_covers(needed, TASK, [TASK], lookup_in(tree))
    assert second == (Cover("/root/x/private", ("/root/x/private/lib",)),)
    tree["/root/x/private"] = DIR_0755
    assert plan_covers(needed, TASK, [TASK], lookup_in(tree)) == ()


def test_root_needs_no_cover() -> None:
    assert plan_covers(["/root/home/dags"], 0, [0], lookup_in(TREE)) == ()


def test_needed_paths_are_the_import_path_prefixes_interpreter_and_folders() -> None:
    found = needed_paths(
        sys_path=["", "/srv/app", "/usr/lib/python3.11/", "/srv/app"],
        prefixes=["/srv/app/venv", "/usr"],
        executables=["/srv/app/venv/bin/python", "/usr/bin/python3.11"],
        folders=["/root/home/dags", "/root/home/plugins"],
    )
    assert found == [
        "/srv/app",
        "/usr/lib/python3.11",
        "/srv/app/venv",
        "/usr",
        "/srv/app/venv/bin",
        "/usr/bin",
        "/root/home/dags",
        "/root/home/plugins",
    ]
