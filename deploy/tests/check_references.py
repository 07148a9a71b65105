"""Checks that what deploy/ names exists in otklik: commands, environment variables, config files.

Run: python3 deploy/tests/check_references.py [--otklik target/debug/otklik]
     (scripts/check-deploy.sh runs it with the built binary)

- compose.yaml, deploy/k8s/*.yaml and deploy/systemd/*.service parse, and every `otklik …` command
  they (and the Dockerfile) run is a subcommand of the binary (`otklik CMD --help`; without a binary,
  a variant of src/main.rs's Command enums);
- every OTKLIK_* variable they set (and RUST_LOG) is read by the code, or named by a config's
  `*_env` option;
- every file the Dockerfile copies, compose mounts and kustomize generates from exists;
- every config they run with passes `otklik check-config`, in a copy of the image's /etc/otklik
  assembled from the repository (deploy/config, config/topics, gazetteer, calendar, demo);
- Prometheus targets are compose services on the configs' metrics port; k8s probes and systemd
  reach only /healthz and /readyz, which src/metrics_http.rs serves.
Exit status 1 with every problem listed.
"""

import argparse
import itertools
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
problems, notes = [], []
# Files compose mounts into /etc/otklik besides configs (e.g. a sources file): their place in the
# container → the repository's file; staged with the image's /etc/otklik for check-config.
MOUNTED = {}


def rel(path):
    return str(pathlib.Path(path).relative_to(ROOT))


def code_text():
    parts = []
    for base in [ROOT / "src", ROOT / "crates"]:
        parts += [p.read_text() for p in base.rglob("*.rs") if "/tests/" not in str(p)]
    return "\n".join(parts)


CODE = code_text()


def kebab(name):
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()


def enum_variants(enum):
    body = re.search(r"enum %s \{(.*?)\n\}" % enum, (ROOT / "src/main.rs").read_text(), re.S)
    return {kebab(v) for v in re.findall(r"^    ([A-Z]\w*)\b", body.group(1), re.M)} if body else set()


def command_exists(words, otklik):
    """Whether `otklik WORDS…` names a subcommand (words up to the first option)."""
    words = list(itertools.takewhile(lambda w: not w.startswith("-"), words))[:2]
    if otklik:
        run = subprocess.run([otklik, *words, "--help"], capture_output=True, text=True)
        return run.returncode == 0 and "unrecognized subcommand" not in run.stderr
    top = enum_variants("Command")
    if words[0] not in top:
        return False
    nested = {"kafka": "KafkaCommand", "clickhouse": "ClickhouseCommand", "alerts": "AlertsCommand",
              "sources": "SourcesCommand"}
    return len(words) < 2 or words[0] not in nested or words[1] in enum_variants(nested[words[0]])


def check_command(where, words, otklik):
    if not words:
        return
    if not command_exists(words, otklik):
        problems.append("%s: `otklik %s` is not an otklik command" % (where, " ".join(words)))


def check_env(where, name):
    if not (name.startswith("OTKLIK_") or name == "RUST_LOG"):
        return
    configs = "\n".join(p.read_text() for p in DEPLOY.rglob("*.toml"))
    if '"%s"' % name not in CODE and not re.search(r'_env\s*=\s*\[?[^\n]*"%s"' % name, configs):
        problems.append("%s: environment variable %s is read by no code and named by no config" % (where, name))


def metrics_port(config):
    m = re.search(r'^metrics_listen\s*=\s*"[^"]*:(\d+)"', config.read_text(), re.M)
    return int(m.group(1)) if m else None


def check_compose(otklik):
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    port = metrics_port(DEPLOY / "compose/otklik.toml")
    services = compose.get("services", {})
    configs = {}
    for name, service in services.items():
        where = "deploy/compose.yaml service %s" % name
        image = service.get("image", "")
        if image.endswith(":latest") or ":" not in image:
            problems.append("%s: image %r has no pinned tag" % (where, image))
        mounts = {}
        for volume in service.get("volumes", []):
            source, _, target = volume.partition(":")
            if source.startswith(".") and not (DEPLOY / source).exists():
                problems.append("%s: mounts %s, which does not exist" % (where, source))
            elif source.startswith("."):
                mounts[target.split(":")[0]] = DEPLOY / source
        if image.startswith("otklik:"):
            command = service.get("command", [])
            check_command(where, command, otklik)
            for target, source in mounts.items():
                if target.startswith("/etc/otklik/") and source.is_file():
                    MOUNTED[target] = source
            # Each service's config is run through check-config as mounted (the image's own
            # /etc/otklik/otklik.toml is checked with the Dockerfile).
            if "--config" in command:
                path = command[command.index("--config") + 1]
                if path in mounts:
                    configs[path] = mounts[path]
                elif path != "/etc/otklik/otklik.toml":
                    problems.append("%s: --config %s is neither mounted nor in the image" % (where, path))
            for var in service.get("environment", {}):
                check_env(where, var)
            test = " ".join(service.get("healthcheck", {}).get("test", []))
            if test and "/%d" % port not in test:
                problems.append("%s: the health check does not reach the metrics port %s" % (where, port))
    prometheus = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    for job in prometheus["scrape_configs"]:
        if job["job_name"] != "otklik":
            continue
        targets = [t for static in job.get("static_configs", []) for t in static["targets"]]
        # DNS discovery (a scaled service: one address per replica).
        for dns in job.get("dns_sd_configs", []):
            targets += ["%s:%s" % (name, dns.get("port")) for name in dns["names"]]
        for target in targets:
            host, _, target_port = target.partition(":")
            if host not in services or not target_port.isdigit() or int(target_port) != port:
                problems.append("deploy/prometheus/prometheus.yml: target %s is not a compose service "
                                "on port %s" % (target, port))
    return configs


def check_dockerfile(otklik):
    text = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        if not (ROOT / source).exists():
            problems.append("deploy/Dockerfile: COPY %s: no such file in the repository" % source)
    for args in re.findall(r"^RUN .*?\botklik ([a-z-]+)", text, re.M):
        check_command("deploy/Dockerfile RUN", [args], otklik)
    cmd = re.search(r'^CMD (\[.*\])', text, re.M)
    if cmd:
        check_command("deploy/Dockerfile CMD", yaml.safe_load(cmd.group(1)), otklik)
    return {"/etc/otklik/otklik.toml": DEPLOY / "config/otklik.toml"}


def check_k8s(otklik):
    k8s = DEPLOY / "k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    generated = set()
    for generator in kustomization.get("configMapGenerator", []):
        generated.add(generator["name"])
        for entry in generator.get("files", []):
            if not (k8s / entry.split("=")[-1]).exists():
                problems.append("deploy/k8s/kustomization.yaml: %s: no such file" % entry)
        for literal in generator.get("literals", []):
            check_env("deploy/k8s configMap %s" % generator["name"], literal.split("=")[0])
    readme = (k8s / "README.md").read_text()
    port = metrics_port(k8s / "config/otklik.toml")
    for resource in kustomization["resources"]:
        for doc in yaml.safe_load_all((k8s / resource).read_text()):
            if doc and doc.get("kind") in ("Deployment", "StatefulSet", "Job"):
                check_pod("deploy/k8s/%s %s" % (resource, doc["metadata"]["name"]), doc["spec"]["template"]["spec"],
                          generated, readme, port, otklik)
    return {"/etc/otklik/k8s/otklik.toml": k8s / "config/otklik.toml"}


def check_pod(where, pod, generated, readme, port, otklik):
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for volume in volumes.values():
        name = (volume.get("configMap") or {}).get("name")
        if name and name not in generated and "configmap %s" % name not in readme:
            problems.append("%s: ConfigMap %s is neither generated nor created in README.md" % (where, name))
        secret = (volume.get("secret") or {})
        for item in secret.get("items", []):
            if "%s=" % item["key"] not in readme:
                problems.append("%s: Secret key %s is not created in README.md" % (where, item["key"]))
    for container in pod["containers"]:
        check_command(where, container.get("args", []), otklik)
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                problems.append("%s: mounts volume %s, which is not declared" % (where, mount["name"]))
        for env in container.get("env", []):
            check_env(where, env["name"])
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref and "%s=" % ref["key"] not in readme:
                problems.append("%s: Secret key %s is not created in README.md" % (where, ref["key"]))
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            http = container.get(probe, {}).get("httpGet")
            if http and http["path"] not in ("/healthz", "/readyz"):
                problems.append("%s: %s asks %s, which /metrics' server does not serve" % (where, probe, http["path"]))
        for p in container.get("ports", []):
            if p.get("name") == "metrics" and p["containerPort"] != port:
                problems.append("%s: metrics port %s is not metrics_listen's %s" % (where, p["containerPort"], port))


def check_systemd(otklik):
    configs = {}
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in unit.read_text().splitlines():
            m = re.match(r"ExecStart(?:Pre)?=/usr/local/bin/otklik (.*)", line)
            if m:
                words = m.group(1).split()
                check_command(rel(unit), words, otklik)
                if "--config" in words:
                    path = words[words.index("--config") + 1]
                    if "%i" not in path:
                        configs[path] = DEPLOY / "config/otklik.toml"
            m = re.match(r"Environment=(\w+)=", line)
            if m:
                check_env(rel(unit), m.group(1))
    return configs


def stage_etc(tmp):
    """The image's /etc/otklik, assembled from the repository as deploy/Dockerfile copies it."""
    etc = tmp / "etc/otklik"
    for source, target in [("config/topics", "topics"), ("config/gazetteer", "gazetteer"),
                           ("config/calendar", "calendar"), ("config/demo/feeds", "demo/feeds"),
                           ("config/topics", "rules")]:
        shutil.copytree(ROOT / source, etc / target)
    for source, target in [("config/sources.example.toml", "sources.toml"),
                           ("config/demo/sources.toml", "demo/sources.toml"),
                           ("deploy/k8s/sources/sources.toml", "sources/sources.toml")]:
        (etc / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, etc / target)
    for target, source in MOUNTED.items():
        (etc / pathlib.Path(target).relative_to("/etc/otklik")).write_bytes(source.read_bytes())
    return etc


def check_configs(configs, otklik):
    with tempfile.TemporaryDirectory(prefix="otklik-deploy-") as tmp:
        etc = stage_etc(pathlib.Path(tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
        for path, source in sorted(configs.items()):
            target = etc / pathlib.Path(path).relative_to("/etc/otklik")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text().replace("/etc/otklik/", str(etc) + "/"))
            run = subprocess.run([otklik, "check-config", str(target)], capture_output=True, text=True, env=env)
            if run.returncode != 0:
                output = run.stdout + run.stderr
                problems.append("%s (as %s): otklik check-config fails:\n%s" % (rel(source), path, output))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--otklik", help="the otklik binary (without it: commands from src/main.rs, no check-config)")
    otklik = parser.parse_args().otklik
    configs = {}
    for check in (check_dockerfile, check_compose, check_k8s, check_systemd):
        configs.update(check(otklik))
    if otklik:
        check_configs(configs, otklik)
    else:
        notes.append("no otklik binary given: the configs were not run through check-config")
    for note in notes:
        print("check_references: note: " + note)
    for problem in problems:
        print("check_references: " + problem, file=sys.stderr)
    print("check_references: %d configs checked, %d problems" % (len(configs) if otklik else 0, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
