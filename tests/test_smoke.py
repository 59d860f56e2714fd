def test_landing_page_offers_a_free_call(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Book a FREE call" in response.data
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
