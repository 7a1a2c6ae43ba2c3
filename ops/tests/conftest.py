import pytest
from prometheus_client.parser import text_string_to_metric_families

from fakes.stripe_server import FakeStripe

METRICS_TOKEN = "scrape-token-for-tests"


class Scrape:
    """The samples of one /metrics answer, looked up by sample name and labels."""

    def __init__(self, text: str):
        self.text = text
        self.samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, name: str, **labels) -> float | None:
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def total(self, name: str, **labels) -> float:
        """Sum of every sample of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.samples.items()
            if sample == name and wanted <= set(sample_labels)
        )


@pytest.fixture
def scrape(client, settings):
    """GET /metrics as an authorised Prometheus would, parsed."""
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.METRICS_ALLOWED_IPS = []

    def get() -> Scrape:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200, response.content
        return Scrape(response.content.decode())

    return get


@pytest.fixture
def fake_stripe(settings):
    """A local fake Stripe the real SDK talks to over HTTP (fakes/stripe_server.py)."""
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        yield fake
