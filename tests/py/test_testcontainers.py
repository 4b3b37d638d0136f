"""testcontainers-python 4 against rrund, as a user's integration tests use
it. Run by tests/dockerpy.rs inside the daemon's network namespace (where
its published ports are), with DOCKER_HOST pointing at the daemon, the
busybox image loaded as `busybox`, and the Ryuk reaper off (it is an
image from Docker Hub, which this machine cannot reach)."""

import urllib.request

from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network
from testcontainers.core.waiting_utils import wait_for_logs

WEB = ["sh", "-c", "mkdir -p /www && echo hi-from-web > /www/index.html && echo serving && exec httpd -f -p 8080 -h /www"]


def test_log_wait_mapped_port_exec_and_a_name_on_a_network():
    with Network() as net:
        web = (
            DockerContainer("busybox")
            .with_command(WEB)
            .with_exposed_ports(8080)
            .with_network(net)
            .with_network_aliases("web")
        )
        with web:
            wait_for_logs(web, "serving", timeout=30)
            host = web.get_container_host_ip()
            port = web.get_exposed_port(8080)
            body = urllib.request.urlopen(f"http://{host}:{port}/", timeout=10).read()
            assert body == b"hi-from-web\n"

            result = web.exec(["sh", "-c", "echo out; exit 3"])
            assert result.exit_code == 3
            assert result.output == b"out\n"
            assert web.exec(["true"]).exit_code == 0

            client = DockerContainer("busybox").with_command(
                ["sh", "-c", "wget -qO- http://web:8080/"]
            ).with_network(net)
            with client:
                status = client.get_wrapped_container().wait(timeout=30)
                assert status["StatusCode"] == 0
                stdout, _ = client.get_logs()
                assert stdout == b"hi-from-web\n"


def test_env_and_a_named_container():
    c = (
        DockerContainer("busybox")
        .with_env("GREETING", "hello")
        .with_name("tc-named")
        .with_command(["sh", "-c", "echo $GREETING; sleep 30"])
    )
    with c:
        wait_for_logs(c, "hello", timeout=30)
        assert c.get_wrapped_container().name == "tc-named"
