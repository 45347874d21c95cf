//! Signing in through the gateway's forms as a browser without JavaScript does: plain form
//! posts, redirects and the session cookie.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{self, Stack, browser_without_js, spawn_stack, spawn_stack_at};

/// The `action` of the page's first form with that server function in it.
async fn form_action(stack: &Stack, page: &str, function: &str, cookie: Option<&str>) -> String {
    let mut request = stack.gateway.http.get(stack.gateway.url(page));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    let html = request
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("html");
    let start = html
        .find(&format!(r#"action="/api/{function}"#))
        .unwrap_or_else(|| panic!("no {function} form on {page}"));
    let rest = &html[start + r#"action=""#.len()..];
    rest[..rest.find('"').expect("closing quote")].to_owned()
}

async fn register(stack: &Stack, email: &str) -> reqwest::Response {
    let action = form_action(stack, "/register", "register", None).await;
    browser_without_js(stack)
        .post(stack.gateway.url(&action))
        .form(&[
            ("email", email),
            ("display_name", "Nora"),
            ("password", "long enough pw"),
        ])
        .send()
        .await
        .expect("POST the register form")
}

fn session_cookie(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("session="))
        .unwrap_or_else(|| panic!("no session cookie in {:?}", response.headers()))
        .to_owned()
}

#[tokio::test]
async fn registering_signs_in_with_an_http_only_same_site_cookie() {
    let stack = spawn_stack().await;
    let email = format!("{}@example.com", testkit::unique_name("nora"));
    let response = register(&stack, &email).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()[LOCATION], "/seller");
    let cookie = session_cookie(&response);
    assert!(cookie.starts_with("session="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{attribute} missing: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain http cannot carry a Secure cookie: {cookie}"
    );

    // The cookie signs the next page in; logging out ends the session.
    let pair = cookie.split(';').next().expect("name=value").to_owned();
    let page = stack
        .gateway
        .http
        .get(stack.gateway.url("/seller"))
        .header(COOKIE, &pair)
        .send()
        .await
        .expect("GET");
    let html = page.text().await.expect("html");
    assert!(html.contains("Signed in as"), "{html}");

    let action = form_action(&stack, "/", "log_out", Some(&pair)).await;
    let logout = browser_without_js(&stack)
        .post(stack.gateway.url(&action))
        .header(COOKIE, &pair)
        .send()
        .await
        .expect("log out");
    assert!(logout.status().is_redirection());
    assert!(
        session_cookie(&logout).contains("Max-Age=0"),
        "the cookie is removed"
    );
    let page = stack
        .gateway
        .http
        .get(stack.gateway.url("/seller"))
        .header(COOKIE, &pair)
        .send()
        .await
        .expect("GET");
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("Log in to list items"),
        "the old cookie no longer signs in"
    );
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_host_prefixed() {
    let stack = spawn_stack_at("https://shop.example").await;
    let email = format!("{}@example.com", testkit::unique_name("sec"));
    let cookie = session_cookie(&register(&stack, &email).await);
    assert!(cookie.starts_with("__Host-session="), "{cookie}");
    assert!(
        cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );

    // A guest's cart cookie the same way.
    let item = stack
        .list_item(&helpers::seller("Sal"), "Secure spoon", 300, 5)
        .await;
    let added = browser_without_js(&stack)
        .post(stack.server_fn::<app::api::AddToCart>())
        .form(&[("item_id", item.as_str()), ("quantity", "1")])
        .send()
        .await
        .expect("POST add to cart");
    let cart_cookie = added
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find(|c| c.contains("cart="))
        .unwrap_or_else(|| panic!("no cart cookie in {:?}", added.headers()))
        .to_owned();
    assert!(cart_cookie.starts_with("__Host-cart="), "{cart_cookie}");
    assert!(
        ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"]
            .iter()
            .all(|part| cart_cookie.contains(part))
            && !cart_cookie.contains("Domain"),
        "{cart_cookie}"
    );
}

#[tokio::test]
async fn a_wrong_password_leaves_no_cookie() {
    let stack = spawn_stack().await;
    let email = format!("{}@example.com", testkit::unique_name("ola"));
    register(&stack, &email).await;
    let action = form_action(&stack, "/login", "log_in", None).await;
    let response = browser_without_js(&stack)
        .post(stack.gateway.url(&action))
        .form(&[("email", email.as_str()), ("password", "not the password")])
        .send()
        .await
        .expect("POST the login form");
    assert!(
        response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| !c.to_str().unwrap_or_default().starts_with("session="))
    );
    assert!(
        response.status().is_client_error() || response.status().is_redirection(),
        "{}",
        response.status()
    );
}

#[tokio::test]
async fn logging_in_ends_the_session_the_browser_had_before() {
    let stack = spawn_stack().await;
    let (email, _) = helpers::register(&stack, "Pia").await;
    let before = stack.sign_in(&email).await;
    let signed_in = |cookie: String| {
        let stack = &stack;
        async move {
            stack
                .gateway
                .http
                .get(stack.gateway.url("/seller"))
                .header(COOKIE, cookie)
                .send()
                .await
                .expect("GET /seller")
                .text()
                .await
                .expect("html")
                .contains("Signed in as")
        }
    };
    assert!(signed_in(before.clone()).await);

    // The same browser logs in again (or someone fixed a session id in it beforehand).
    let response = browser_without_js(&stack)
        .post(stack.server_fn::<app::api::LogIn>())
        .header(COOKIE, &before)
        .form(&[("email", email.as_str()), ("password", "a good password")])
        .send()
        .await
        .expect("POST the login form");
    let after = session_cookie(&response);
    let after = after.split(';').next().expect("name=value").to_owned();
    assert_ne!(after, before, "a new session id");
    assert!(signed_in(after).await, "the new session works");
    assert!(!signed_in(before).await, "the old session has ended");
}
