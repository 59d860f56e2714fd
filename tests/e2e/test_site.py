from playwright.sync_api import expect


def test_landing_page_reads_well_on_a_phone_and_a_desktop(live_server, phone, desktop, shots):
    for page, label in ((phone, "phone"), (desktop, "desktop")):
        page.goto(live_server + "/")
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        cta = page.get_by_role("link", name="Book a FREE call").first
        expect(cta).to_be_visible()
        # Nothing wider than the viewport: the page must not scroll sideways on a phone.
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow
        shots(page, f"landing-{label}")
