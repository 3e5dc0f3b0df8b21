def test_signup_then_dashboard(client, auth):
    response = auth.sign_up()
    assert response.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "Globex" in page.get_data(as_text=True)


def test_login_with_factory_user(client, auth, admin):
    response = auth.login(admin.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get("/members").status_code == 200
