"""Programs: the pure plan engine (``programs.engine``) and what persists around it — intake,
plans, workout logs, adaptation, the runner's portal and the coach's client view.

Flask is imported inside ``init_app`` only, so importing the engine never pulls in the app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # For the annotation only: see above.
    from flask import Flask


def init_app(app: Flask) -> None:
    # Imported here, not at the top: each pulls in Flask (or Celery, the database and the CRM), and
    # `import programs.engine` must not.
    from celery.schedules import crontab

    from crm.articles.render import register_exercise_library
    from crm.leads import register_client_page
    from crm.nav import add_nav
    from extensions import api as smorest_api
    from extensions import csrf
    from programs import (  # noqa: F401 - tables and jobs (demos: its Celery task)
        access,
        api,
        cli,
        coach,
        demo,
        demos,
        library,
        library_admin,
        models,
        offline,
        routes,
        strength_routes,
        tasks,
    )
    from tasks import add_periodic_task

    access.init_app(app)  # the one guard of the runner's side (portal, her API, community)
    app.register_blueprint(routes.bp)
    app.register_blueprint(coach.bp)
    app.register_blueprint(library_admin.bp)
    app.register_blueprint(offline.bp)
    app.register_blueprint(strength_routes.bp)
    csrf.exempt(api.bp)
    smorest_api.register_blueprint(api.bp)
    app.cli.add_command(cli.plan_preview)
    app.cli.add_command(demo.seed_demo)
    app.cli.add_command(cli.sync_coach_flags)
    add_nav(app, "runner", "portal.today", "Today", 10)
    add_nav(app, "runner", "portal.plan", "Plan", 20)
    add_nav(app, "runner", "portal.progress", "Progress", 30)
    add_nav(app, "coach", "clients.client_list", "Clients", 40)
    add_nav(app, "coach", "exercises.exercise_list", "Exercises", 55)
    add_periodic_task(app, "coach-flags", "programs.sync_coach_flags", crontab(minute=40))
    register_exercise_library(app, library.current_library)
    register_client_page(app, coach.client_page)
