"""docker-compose.yml and the Dockerfile, checked without a Docker engine: the Compose
Specification's JSON schema (what Docker Compose v2 validates against), and what we promise."""

import json
import re

import pytest
import yaml

from conftest import ROOT

SCHEMA = ROOT.parent / "shared" / "compose-spec" / "compose-spec.json"
COMPOSE = ROOT / "docker-compose.yml"
EXTERNAL_VLM = ROOT / "docker-compose.external-vlm.yml"
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?)([-?])([^}]*))?\}")


def example_env() -> dict[str, str]:
    """.env.example's values, with the secrets filled in as a user would."""
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            env[key.strip()] = value.strip()
    return env | {"HF_TOKEN": "hf_example", "MINIO_ROOT_USER": "vidrag", "MINIO_ROOT_PASSWORD": "a-long-secret"}


def interpolate(node, env: dict[str, str]):
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution, applied to a loaded file."""
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, env) for value in node]
    if not isinstance(node, str):
        return node

    def substitute(match):
        name, colon, kind, argument = match.groups()
        value = env.get(name)
        missing = value is None or (colon == ":" and value == "")
        if kind == "-" and missing:
            return argument
        if kind == "?" and missing:
            raise KeyError(f"{name}: {argument}")
        return value or ""

    return _VARIABLE.sub(substitute, node)


def merged(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load(env=None, *overrides) -> dict:
    document = yaml.safe_load(COMPOSE.read_text())
    for path in overrides:
        document = merged(document, yaml.safe_load(path.read_text()))
    return interpolate(document, example_env() if env is None else env)


def vllm_flags(compose: dict) -> dict[str, str]:
    command = compose["services"]["vllm"]["command"]
    return {flag: value for flag, value in zip(command, command[1:], strict=False) if flag.startswith("--")}


@pytest.mark.parametrize("overrides", [(), (EXTERNAL_VLM,)], ids=["default", "external-vlm"])
def test_compose_files_match_the_compose_specification(overrides):
    jsonschema = pytest.importorskip("jsonschema")
    if not SCHEMA.is_file():
        pytest.skip(f"the Compose Specification's schema is not at {SCHEMA}")
    env = example_env() | {"VIDRAG_VLM_BASE_URL": "http://host.docker.internal:8000/v1"}
    jsonschema.validate(load(env, *overrides), json.loads(SCHEMA.read_text()))


def test_the_services_and_their_healthchecks():
    services = load()["services"]
    assert set(services) == {"etcd", "minio", "milvus", "vllm", "app"}
    for name in ("etcd", "minio", "milvus", "vllm"):
        assert services[name]["healthcheck"]["test"], name
    assert services["milvus"]["image"].startswith("milvusdb/milvus:v2.6.")
    assert re.fullmatch(r"vllm/vllm-openai:v\d+\.\d+\.\d+", services["vllm"]["image"])  # pinned, not latest
    assert "/health" in " ".join(services["vllm"]["healthcheck"]["test"])
    assert services["vllm"]["healthcheck"]["start_period"] == "60m"  # room for a first download


def test_vllm_serves_pixtral_on_a_gpu_with_its_token_and_cache():
    vllm = load()["services"]["vllm"]
    (device,) = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    flags = vllm_flags(load())
    assert flags["--model"] == "mistralai/Pixtral-12B-2409"
    assert flags["--tokenizer-mode"] == flags["--config-format"] == flags["--load-format"] == "mistral"
    assert vllm["environment"]["HF_TOKEN"] == "hf_example"
    assert any(v.endswith(":/root/.cache/huggingface") for v in vllm["volumes"])


def test_only_the_app_publishes_a_port_and_on_localhost_by_default():
    services = load()["services"]
    assert [name for name, s in services.items() if s.get("ports")] == ["app"]
    assert services["app"]["ports"] == ["127.0.0.1:8501:8501"]


@pytest.mark.parametrize("overrides", [
    {},
    {"VIDRAG_VLM_MAX_IMAGES": "5", "VIDRAG_VLM_CONTEXT_TOKENS": "32768", "VIDRAG_VLM_MODEL": "org/other-vlm"},
])
def test_vllm_flags_and_app_settings_come_from_the_same_variables(overrides):
    from rag.settings import Settings

    env = {"MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "p", **overrides}
    compose = load(env)
    flags, app = vllm_flags(compose), compose["services"]["app"]["environment"]
    assert json.loads(flags["--limit-mm-per-prompt"]) == {"image": int(app["VIDRAG_VLM_MAX_IMAGES"])}
    assert flags["--max-model-len"] == app["VIDRAG_VLM_CONTEXT_TOKENS"]
    assert flags["--model"] == app["VIDRAG_VLM_MODEL"]
    if not overrides:  # compose's defaults are the app's own defaults
        defaults = Settings(_env_file=None)
        assert int(app["VIDRAG_VLM_MAX_IMAGES"]) == defaults.vlm_max_images
        assert int(app["VIDRAG_VLM_CONTEXT_TOKENS"]) == defaults.vlm_context_tokens
        assert app["VIDRAG_VLM_MODEL"] == defaults.vlm_model


def test_the_app_uses_milvus_and_vllm_and_waits_only_for_milvus():
    app = load()["services"]["app"]
    assert app["environment"]["VIDRAG_MILVUS_URI"] == "http://milvus:19530"
    assert app["environment"]["VIDRAG_VLM_BASE_URL"] == "http://vllm:8000/v1"
    assert app["depends_on"] == {"milvus": {"condition": "service_healthy"}}
    assert {v.split(":")[1] for v in app["volumes"]} == {"/data", "/cache"}


def test_external_vlm_override_drops_vllm_and_points_the_app_elsewhere():
    env = example_env() | {"VIDRAG_VLM_BASE_URL": "http://host.docker.internal:8000/v1"}
    services = load(env, EXTERNAL_VLM)["services"]
    assert services["vllm"]["deploy"]["replicas"] == 0
    assert services["app"]["environment"]["VIDRAG_VLM_BASE_URL"] == "http://host.docker.internal:8000/v1"


def test_minio_credentials_come_from_env():
    raw = yaml.safe_load(COMPOSE.read_text())["services"]
    for service, keys in {"minio": ["MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"],
                          "milvus": ["MINIO_ACCESS_KEY_ID", "MINIO_SECRET_ACCESS_KEY"]}.items():
        for key in keys:
            assert raw[service]["environment"][key].startswith("${MINIO_ROOT_"), (service, key)
    with pytest.raises(KeyError, match="MINIO_ROOT_USER"):
        load({})


def test_every_variable_the_compose_files_use_is_in_env_example():
    used = set()
    for path in (COMPOSE, EXTERNAL_VLM):
        used |= {m.group(1) for m in _VARIABLE.finditer(path.read_text())}
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert used - documented == set()


def test_dockerfile():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert [line for line in lines if line.startswith("FROM")] == ["FROM python:3.11-slim"]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    install = next(i for i, line in enumerate(lines) if "pip install" in line and "requirements.txt" in line)
    copy_requirements = next(i for i, line in enumerate(lines) if line.startswith("COPY requirements.txt"))
    copy_code = next(i for i, line in enumerate(lines) if line.startswith("COPY") and " rag " in line + " ")
    assert copy_requirements < install < copy_code  # dependencies cached in their own layer
    assert any("_stcore/health" in line for line in lines if "HEALTHCHECK" in line or "CMD python" in line)
    assert any(line.startswith("VOLUME") and "/cache" in line for line in lines)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", "data", ".git", ".env"} <= set(ignored)
