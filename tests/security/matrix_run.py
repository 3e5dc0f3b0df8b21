"""Drive every route as every role (shared by the matrix test and its recorder)."""
from __future__ import annotations

from tests.security.world import ROLES, World, route_url, routes

# POSTs that end the role's session or change the organization for everyone run last.
LAST = ("accounts.session_end", "accounts.sign_out", "accounts.organization_delete")
# Roles in the order they POST: the most privileged last, so that what an action deletes is gone only at the end.
POST_ORDER = ("anonymous", "other_customer", "other_admin", "bearer", "customer", "agent", "manager", "admin")


def exercise(world: World):
    """Yield (method, rule, role, url, all_ids_found, status, response) for every route x role."""
    pairs = routes(world.app)
    gets = [(m, r) for m, r in pairs if m == "GET"]
    posts = sorted([(m, r) for m, r in pairs if m != "GET"], key=lambda p: (p[1].endpoint in LAST, p[1].rule))
    for method, rule in gets:
        for role in ROLES:
            url, found = route_url(world, rule)
            response = world.client(role).open(url, method=method, headers=world.headers(role))
            yield method, rule, role, url, found, response.status_code, response
    for method, rule in posts:
        for role in POST_ORDER:
            url, found = route_url(world, rule)
            data = {"csrf_token": world.csrf(role)} if role != "bearer" else {}
            response = world.client(role).open(url, method=method, data=data, headers=world.headers(role))
            yield method, rule, role, url, found, response.status_code, response
            if rule.endpoint in LAST or response.status_code == 400:
                world.refresh_csrf(role)
