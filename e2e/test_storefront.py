"""The shop front a newcomer sees: the home page with covers, a course with its outline from the
LMS and the refund policy, on to checkout."""

from playwright.sync_api import Page, expect

from .flows import AWS, main, start_checkout
from .shots import Shots
from .stack import Stack


def loading_attributes(page: Page) -> list[str | None]:
    return page.evaluate(
        "() => [...document.querySelectorAll('img')].map(img => img.getAttribute('loading'))"
    )


def loaded_images(page: Page) -> list[dict]:
    """Every <img> of the page once loaded (lazy ones too): the file the browser chose and its
    real size."""
    page.evaluate(
        """async () => {
            for (const img of document.querySelectorAll('img')) {
                img.loading = 'eager';
                if (!img.complete) await new Promise(r => { img.onload = img.onerror = r; });
            }
        }"""
    )
    return page.evaluate(
        "() => [...document.querySelectorAll('img')].map(img => ({src: img.currentSrc, "
        "width: img.naturalWidth}))"
    )


def test_home_page_leads_to_a_course_with_its_cover_outline_and_refund_policy(
    page: Page, stack: Stack, shots: Shots
):
    # Given the home page
    page.goto("/")
    expect(page).to_have_title("Professional certification courses with labs and mentors · MaalEdu")
    featured = page.get_by_role("region", name="Featured courses")
    expect(featured.get_by_role("article")).to_have_count(3)
    expect(page.get_by_role("heading", name="Grants: up to 100% off")).to_be_visible()
    expect(page.get_by_role("heading", name="Affiliate programme: earn 10%")).to_be_visible()
    # The covers are lazy, and the browser fetched a WebP thumbnail for each.
    assert loading_attributes(page) == ["lazy"] * 3
    images = loaded_images(page)
    assert len(images) == 3
    assert all(img["width"] > 0 and img["src"].endswith(".webp") for img in images), images
    shots.step(page, "home")

    # When the visitor opens a featured course
    featured.get_by_role("link", name=AWS.title, exact=True).click()

    # Then its page shows the cover, the outline from the LMS and the refund policy
    expect(page.get_by_role("heading", name=AWS.title, level=1)).to_be_visible()
    outline = page.get_by_role("region", name="Course outline")
    expect(outline).to_contain_text("3 chapters · 8 lessons")
    expect(outline.get_by_text("1. Designing secure architectures")).to_be_visible()
    expect(outline.get_by_text("How the exam is scored")).to_be_visible()
    outline.get_by_text("2. Resilient and high-performing designs").click()
    expect(outline.get_by_text("Multi-AZ and multi-Region")).to_be_visible()
    expect(outline).to_contain_text("Amira Haddad")
    expect(main(page).get_by_role("complementary")).to_contain_text(
        "You can ask for a refund within 14 days of your purchase"
    )
    cover = loaded_images(page)
    assert len(cover) == 1 and cover[0]["width"] == 960, cover
    shots.step(page, "course with outline")

    # And the checkout states the same refund policy
    start_checkout(page, AWS)
    expect(page.get_by_role("region", name="Refund policy")).to_contain_text(
        "A full refund ends your access to the course"
    )
