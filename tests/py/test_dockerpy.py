"""docker-py (PyPI's `docker` 7) against rrund, as integration-test scripts
use it. Run by tests/dockerpy.rs with DOCKER_HOST pointing at a daemon of
the test's own, the busybox image loaded as `busybox`, and RRUN_REGISTRY
a registry on loopback holding `test/busybox:1.0`.

Every wait is bounded; names are unique per run (RRUN_PREFIX)."""

import io
import os
import socket
import tarfile
import time

import docker
import pytest

PREFIX = os.environ.get("RRUN_PREFIX", "py")
REGISTRY = os.environ["RRUN_REGISTRY"]


def name(what):
    return f"{PREFIX}-{what}"


@pytest.fixture(scope="module")
def client():
    c = docker.from_env(timeout=60)
    yield c
    c.close()


@pytest.fixture
def cleanup(client):
    made = []
    yield made
    for kind, ident in reversed(made):
        try:
            if kind == "container":
                client.containers.get(ident).remove(force=True)
            elif kind == "network":
                client.networks.get(ident).remove()
            elif kind == "volume":
                client.volumes.get(ident).remove(force=True)
        except docker.errors.NotFound:
            pass


def wait_until(what, predicate, seconds=20):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


# --- the daemon -----------------------------------------------------------


def test_ping_version_info(client):
    assert client.ping() is True
    v = client.version()
    assert v["ApiVersion"] >= "1.41"
    assert v["Os"] == "linux"
    info = client.info()
    assert info["Swarm"]["LocalNodeState"] == "inactive"
    assert info["NCPU"] >= 1
    assert "Containers" in info


# --- containers -----------------------------------------------------------


def test_run_returns_output_and_exit_codes(client):
    out = client.containers.run("busybox", ["echo", "hello"], remove=True)
    assert out == b"hello\n"
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 3"], remove=True)
    assert e.value.exit_status == 3
    with pytest.raises(docker.errors.ImageNotFound):
        client.containers.run("nosuchimage-rrun:1", "true", remove=True)


def test_create_start_logs_wait_remove(client, cleanup):
    c = client.containers.create(
        "busybox",
        ["sh", "-c", "echo out; echo err >&2; exit 7"],
        name=name("life"),
        labels={"app": "py"},
        environment={"A": "1"},
    )
    cleanup.append(("container", c.id))
    assert c.status == "created"
    c.start()
    assert c.wait(timeout=30)["StatusCode"] == 7
    c.reload()
    assert c.status == "exited"
    assert c.attrs["State"]["ExitCode"] == 7
    assert c.labels == {"app": "py"}
    assert "A=1" in c.attrs["Config"]["Env"]
    host_config = c.attrs["HostConfig"]
    for key in ("PidMode", "UTSMode", "IpcMode", "Runtime", "CgroupnsMode", "DeviceCgroupRules",
                "Isolation", "MemorySwappiness", "VolumeDriver", "RestartPolicy", "LogConfig"):
        assert key in host_config, key
    assert c.logs(stdout=True, stderr=False) == b"out\n"
    assert c.logs(stdout=False, stderr=True) == b"err\n"
    assert b"".join(c.logs(stream=True)) in (b"out\nerr\n", b"err\nout\n")
    assert client.containers.get(name("life")).id == c.id
    c.remove()
    cleanup.clear()
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(c.id)


def test_detached_logs_follow_kill_and_list_filters(client, cleanup):
    c = client.containers.run(
        "busybox",
        ["sh", "-c", "echo ready; sleep 300"],
        detach=True,
        name=name("follow"),
        labels={"com.docker.compose.project": "p", "com.docker.compose.service": "app"},
    )
    cleanup.append(("container", c.id))
    other = client.containers.run(
        "busybox",
        ["sleep", "300"],
        detach=True,
        name=name("other"),
        labels={"com.docker.compose.project": "p", "com.docker.compose.service": "db"},
    )
    cleanup.append(("container", other.id))
    stream = c.logs(stream=True, follow=True)
    assert next(stream) == b"ready\n"
    listed = client.containers.list(
        filters={
            "label": ["com.docker.compose.project=p", "com.docker.compose.service=app"]
        }
    )
    assert [x.id for x in listed] == [c.id]
    assert {x.id for x in client.containers.list(filters={"label": "com.docker.compose.project=p"})} == {
        c.id,
        other.id,
    }
    c.kill()
    c.reload()
    assert c.status == "exited"
    assert c.attrs["State"]["ExitCode"] == 137
    assert [x.id for x in client.containers.list(all=True, filters={"status": "exited", "name": name("follow")})] == [
        c.id
    ]
    other.stop(timeout=1)
    other.reload()
    assert other.status == "exited"


def test_top_and_stats(client, cleanup):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name=name("top"))
    cleanup.append(("container", c.id))
    top = c.top()
    assert any("sleep" in " ".join(p) for p in top["Processes"]), top
    stats = c.stats(stream=False)
    assert stats["memory_stats"]["usage"] > 0
    assert "cpu_stats" in stats


def test_prune_and_df_bodies_as_dockerd_sends_them(client, cleanup):
    # Scripts index these keys directly: dockerd sends null, never omits.
    c = client.containers.create("busybox", ["true"], name=name("prunable"),
                                 labels={"py-prune": name("x")})
    cleanup.append(("container", c.id))
    report = client.containers.prune(filters={"label": "py-prune=nothing"})
    assert report["ContainersDeleted"] is None and report["SpaceReclaimed"] == 0
    report = client.containers.prune(filters={"label": f"py-prune={name('x')}"})
    assert report["ContainersDeleted"] == [c.id], report
    images = client.images.prune(filters={"dangling": True})
    assert "ImagesDeleted" in images and "SpaceReclaimed" in images
    df = client.df()
    assert df["BuildCache"] == [] and df["LayersSize"] > 0
    busybox = [i for i in df["Images"] if any(t.startswith("busybox") for t in i["RepoTags"])]
    assert busybox and busybox[0]["VirtualSize"] == busybox[0]["Size"] > 0


def raw_socket(sock):
    return getattr(sock, "_sock", sock)


def read_until(raw, want, seconds=20):
    """Reads the attach stream until `want` shows (or the deadline)."""
    got, deadline = b"", time.time() + seconds
    raw.settimeout(1)
    while want not in got and time.time() < deadline:
        try:
            chunk = raw.recv(4096)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    return got


def ends_within(raw, seconds=20):
    deadline = time.time() + seconds
    raw.settimeout(1)
    while time.time() < deadline:
        try:
            if not raw.recv(4096):
                return True
        except socket.timeout:
            continue
    return False


def test_attach_detach_keys_end_the_stream_not_the_container(client, cleanup):
    # A client that leaves the detach keys to the daemon (docker-py's raw
    # socket): the keys end the attach, the shell runs on.
    c = client.containers.run("busybox", ["sh"], detach=True, tty=True,
                              stdin_open=True, name=name("detach"))
    cleanup.append(("container", c.id))
    for keys, typed in [(None, b"\x10\x11"), ("ctrl-a,x", b"\x01x")]:
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        if keys:
            params["detachKeys"] = keys
        sock = client.api.attach_socket(c.id, params=params)
        raw = raw_socket(sock)
        raw.sendall(b"echo marker-$((40+2))\n")
        assert b"marker-42" in read_until(raw, b"marker-42")
        raw.sendall(typed)
        assert ends_within(raw), f"the attach went on after {typed!r}"
        sock.close()
        c.reload()
        assert c.status == "running"
    with pytest.raises(docker.errors.APIError) as bad:
        client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1,
                                               "detachKeys": "ctrl-pq"})
    assert "Invalid detach keys" in str(bad.value)


def test_every_attached_client_reaches_stdin(client, cleanup):
    # Docker merges the stdin of every attached client: a second attach
    # while the first is still open types into the same container (the
    # shim turned it away, and a re-attach right after a detach lost its
    # input the same way).
    c = client.containers.run("busybox", ["cat"], detach=True,
                              stdin_open=True, name=name("two"))
    cleanup.append(("container", c.id))
    socks = [client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1})
             for _ in range(2)]
    for sock, word in zip(socks, (b"from-first", b"from-second")):
        raw_socket(sock).sendall(word + b"\n")
    deadline = time.time() + 20
    while time.time() < deadline and not (b"from-first" in c.logs()
                                          and b"from-second" in c.logs()):
        time.sleep(0.1)
    for sock in socks:
        sock.close()
    assert b"from-first" in c.logs() and b"from-second" in c.logs(), c.logs()


def test_stdin_stays_open_between_attaches_without_stdin_once(client, cleanup):
    c = client.containers.run("busybox", ["cat"], detach=True,
                              stdin_open=True, name=name("cat"))
    cleanup.append(("container", c.id))
    for word in (b"first-word", b"second-word"):
        sock = client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1})
        raw = raw_socket(sock)
        raw.sendall(word + b"\n")
        raw.shutdown(socket.SHUT_WR)
        deadline = time.time() + 20
        while word not in c.logs() and time.time() < deadline:
            time.sleep(0.1)
        sock.close()
        assert word in c.logs()
        c.reload()
        assert c.status == "running", "the client's EOF closed cat's stdin"


def test_pause_unpause_and_update(client, cleanup):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name=name("pause"))
    cleanup.append(("container", c.id))
    c.pause()
    c.reload()
    assert c.status == "paused"
    assert c.attrs["State"]["Paused"] is True
    c.unpause()
    c.reload()
    assert c.status == "running"
    result = c.update(mem_limit="64m", restart_policy={"Name": "on-failure", "MaximumRetryCount": 2})
    assert isinstance(result.get("Warnings"), list), result
    c.reload()
    assert c.attrs["HostConfig"]["Memory"] == 64 * 1024 * 1024
    assert c.attrs["HostConfig"]["RestartPolicy"]["Name"] == "on-failure"


def tar_of(name_, data, mode=0o640, uid=1234, gid=5678):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo(name_)
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def file_of(stream, member):
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as t:
        m = t.getmember(member)
        return m, t.extractfile(m).read()


def test_archive_put_and_get_running_and_stopped(client, cleanup):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name=name("archive"))
    cleanup.append(("container", c.id))
    assert c.put_archive("/tmp", tar_of("greeting.txt", b"hello\n")) is True
    # Modes as the tar says; owners root's without copyUIDGID (Docker's rule).
    assert c.exec_run(["stat", "-c", "%a %u %g", "/tmp/greeting.txt"]).output == b"640 0 0\n"
    stream, stat = c.get_archive("/tmp/greeting.txt")
    assert (stat["name"], stat["size"], stat["mode"]) == ("greeting.txt", 6, 0o640), stat
    member, data = file_of(stream, "greeting.txt")
    assert (data, member.mode) == (b"hello\n", 0o640)
    _, stat = c.get_archive("/tmp")
    assert stat["mode"] & (1 << 31), stat  # Go's os.ModeDir
    # A symlink's stat names where it leads, resolved in the container.
    assert c.exec_run(["ln", "-s", "greeting.txt", "/tmp/glink"]).exit_code == 0
    _, stat = c.get_archive("/tmp/glink")
    assert stat["mode"] & (1 << 27) and stat["linkTarget"] == "/tmp/greeting.txt", stat
    with pytest.raises(docker.errors.NotFound):
        c.get_archive("/no/such")
    with pytest.raises(docker.errors.NotFound):
        c.put_archive("/no/such", tar_of("x", b"x"))
    # A stopped container: its root filesystem is mounted for the copy.
    c.kill()
    c.wait(timeout=30)
    assert c.put_archive("/root", tar_of("cold.txt", b"cold\n", mode=0o600)) is True
    stream, stat = c.get_archive("/root/cold.txt")
    assert stat["mode"] == 0o600, stat
    assert file_of(stream, "cold.txt")[1] == b"cold\n"
    _, stat = c.get_archive("/tmp/glink")
    assert stat["linkTarget"] == "/tmp/greeting.txt", stat


def test_rename(client, cleanup):
    c = client.containers.create("busybox", "true", name=name("old"))
    cleanup.append(("container", c.id))
    c.rename(name("new"))
    c.reload()
    assert c.name == name("new")
    with pytest.raises(docker.errors.APIError) as e:
        client.containers.create("busybox", "true", name=name("new"))
    assert e.value.status_code == 409


# --- exec -----------------------------------------------------------------


def test_exec_exit_codes_stream_and_demux(client, cleanup):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name=name("exec"))
    cleanup.append(("container", c.id))
    r = c.exec_run(["sh", "-c", "echo hi; exit 4"])
    assert r.exit_code == 4
    assert r.output == b"hi\n"
    r = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert r.output == (b"o\n", b"e\n")
    r = c.exec_run(["sh", "-c", "echo a; echo b"], stream=True)
    assert b"".join(r.output) == b"a\nb\n"
    r = c.exec_run("nosuchcommand")
    assert r.exit_code in (126, 127)
    r = c.exec_run(["sh", "-c", "echo $X $(id -u)"], environment={"X": "y"}, user="65534")
    assert r.output == b"y 65534\n"


# --- healthchecks ---------------------------------------------------------


def test_healthchecks_status_log_and_filter(client, cleanup):
    every = 300_000_000  # 300 ms, in nanoseconds as the API takes it
    ok = client.containers.run(
        "busybox", ["sleep", "300"], detach=True, name=name("healthy"),
        healthcheck={"test": ["CMD-SHELL", "echo fine"], "interval": every, "retries": 1},
    )
    cleanup.append(("container", ok.id))
    bad = client.containers.run(
        "busybox", ["sleep", "300"], detach=True, name=name("unhealthy"),
        healthcheck={"test": ["CMD", "false"], "interval": every, "retries": 2},
    )
    cleanup.append(("container", bad.id))

    def health(c):
        c.reload()
        return c.attrs["State"]["Health"]

    wait_until("a healthy container", lambda: health(ok)["Status"] == "healthy")
    wait_until("an unhealthy container", lambda: health(bad)["Status"] == "unhealthy")
    assert health(ok)["Log"][-1]["Output"] == "fine\n"
    h = health(bad)
    assert h["FailingStreak"] >= 2, h
    assert h["Log"][-1]["ExitCode"] == 1, h
    assert ok.health == "healthy"
    assert [c.id for c in client.containers.list(filters={"health": "healthy"})] == [ok.id]
    assert [c.id for c in client.containers.list(filters={"health": "unhealthy"})] == [bad.id]


def test_exec_framing_follows_the_start_request(client, cleanup):
    c = client.containers.run("busybox", ["sleep", "300"], detach=True, name=name("frame"))
    cleanup.append(("container", c.id))
    # A terminal exec started without Tty: its output comes framed.
    eid = client.api.exec_create(c.id, ["echo", "hi"], tty=True)["Id"]
    assert client.api.exec_start(eid, tty=False) == b"hi\r\n"
    # A plain exec started with Tty: the frames' payloads, raw.
    eid = client.api.exec_create(c.id, ["sh", "-c", "echo out; echo err >&2"])["Id"]
    assert sorted(client.api.exec_start(eid, tty=True).split()) == [b"err", b"out"]


# --- images ---------------------------------------------------------------


def test_images_pull_tag_history_remove(client):
    ref = f"{REGISTRY}/test/busybox"
    img = client.images.pull(ref, tag="1.0")
    assert f"{ref}:1.0" in img.tags
    assert img.tag("py/retagged", "v1") is True
    again = client.images.get("py/retagged:v1")
    assert again.id == img.id
    hist = again.history()
    assert len(hist) >= 1 and "Created" in hist[0]
    names = [t for i in client.images.list() for t in i.tags]
    assert "py/retagged:v1" in names
    assert client.images.list(filters={"reference": "py/*"})[0].id == img.id
    client.images.remove("py/retagged:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("py/retagged:v1")
    client.images.remove(f"{ref}:1.0")
    pruned = client.images.prune(filters={"dangling": True})
    assert "SpaceReclaimed" in pruned


def test_commit_merges_its_config_over_the_containers(client, cleanup):
    # dockerd's commit merges the given config over the container's: Env
    # by name, Cmd kept when given, the rest (Labels, WorkingDir) inherited.
    c = client.containers.run("busybox", ["sleep", "300"], detach=True,
                              environment={"A": "1", "B": "1"}, working_dir="/tmp",
                              labels={"kept": "yes"}, name=name("commit"))
    cleanup.append(("container", c.id))
    img = c.commit("py/committed", "v1", conf={"Env": ["B=2", "C=3"]})
    cfg = client.api.inspect_image(img.id)["Config"]
    env = cfg["Env"]
    assert "A=1" in env and "B=2" in env and "C=3" in env and "B=1" not in env, env
    assert cfg["Cmd"] == ["sleep", "300"] and cfg["WorkingDir"] == "/tmp", cfg
    assert cfg["Labels"]["kept"] == "yes", cfg
    img2 = c.commit("py/committed", "v2", conf={"Cmd": ["echo", "two"]})
    assert client.containers.run(img2.id, remove=True) == b"two\n"
    client.images.remove("py/committed:v1")
    client.images.remove("py/committed:v2")


def test_registry_data_without_pulling(client):
    ref = f"{REGISTRY}/test/busybox:1.0"
    rd = client.images.get_registry_data(ref)
    assert rd.id.startswith("sha256:")
    assert rd.attrs["Descriptor"]["size"] > 0
    assert "manifest" in rd.attrs["Descriptor"]["mediaType"]
    assert rd.has_platform("linux")
    assert not rd.has_platform("windows/arm64")
    with pytest.raises(docker.errors.NotFound):
        client.images.get_registry_data(f"{REGISTRY}/test/nosuch:1.0")
    img = client.images.pull(f"{REGISTRY}/test/busybox", tag="1.0")
    assert f"{REGISTRY}/test/busybox@{rd.id}" in img.attrs["RepoDigests"]
    client.images.remove(ref)


# --- networks -------------------------------------------------------------


def test_networks_connect_aliases_and_filters(client, cleanup):
    net = client.networks.create(name("net"), driver="bridge", labels={"tier": "front"})
    cleanup.append(("network", net.id))
    server = client.containers.run(
        "busybox", ["sleep", "300"], detach=True, name=name("srv"), network=net.name
    )
    cleanup.append(("container", server.id))
    client_c = client.containers.create("busybox", ["sleep", "300"], name=name("cli"))
    cleanup.append(("container", client_c.id))
    net.connect(client_c, aliases=["web"])
    client_c.start()
    # The alias resolves from the other container, through the embedded DNS.
    r = wait_until(
        "the alias to resolve",
        lambda: (lambda r: r if r.exit_code == 0 else None)(
            server.exec_run(["nslookup", "web", "127.0.0.11"])
        ),
    )
    assert client_c.attrs["Id"]
    client_c.reload()
    endpoint = client_c.attrs["NetworkSettings"]["Networks"][net.name]
    assert "web" in endpoint["Aliases"]
    assert "DriverOpts" in endpoint
    ip = endpoint["IPAddress"]
    assert ip.encode() in r.output
    assert [n.id for n in client.networks.list(filters={"label": "tier=front"})] == [net.id]
    assert net.id in [n.id for n in client.networks.list(names=[net.name])]
    net.disconnect(client_c)
    client_c.reload()
    assert net.name not in client_c.attrs["NetworkSettings"]["Networks"]


# --- volumes --------------------------------------------------------------


def test_volumes_create_labels_use_and_prune(client, cleanup):
    vol = client.volumes.create(name("data"), labels={"keep": "no"})
    cleanup.append(("volume", vol.id))
    assert vol.attrs["Labels"] == {"keep": "no"}
    client.containers.run(
        "busybox",
        ["sh", "-c", "echo saved > /data/f"],
        volumes={vol.name: {"bind": "/data", "mode": "rw"}},
        remove=True,
    )
    out = client.containers.run(
        "busybox", ["cat", "/data/f"], volumes=[f"{vol.name}:/data:ro"], remove=True
    )
    assert out == b"saved\n"
    assert [v.name for v in client.volumes.list(filters={"label": "keep=no"})] == [vol.name]
    pruned = client.volumes.prune(filters={"label": "keep=no", "all": "true"})
    assert vol.name in (pruned["VolumesDeleted"] or [])
    cleanup.clear()


# --- events ---------------------------------------------------------------


def test_events_filtered_since_until(client):
    since = time.time() - 1
    c = client.containers.run("busybox", "true", name=name("ev"), detach=True)
    c.wait(timeout=30)
    c.remove()
    until = time.time() + 1
    events = list(
        client.events(
            since=since,
            until=until,
            decode=True,
            filters={"type": "container", "container": name("ev")},
        )
    )
    actions = [e["Action"] for e in events]
    for a in ("create", "start", "die", "destroy"):
        assert a in actions, actions
    assert all(e["Type"] == "container" for e in events)
