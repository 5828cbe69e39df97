"""What the deployment files must agree on, derived from the code.

Every `*_problems` function returns a list of human-readable problems (empty: all good). The
expectations come from the code, not from a second hand-written list: the settings each service
reads (its pydantic Settings class), the port it serves /health, /ready and /metrics on, the
consumer groups and topics its subscribers use, the metrics it registers.

One module per kind of file:
- `common`: the repository's files, the services' settings, variable substitution;
- `dockerfile`: the Dockerfile, resolved into the image one set of build arguments makes;
- `lock`: uv.lock, what each image installs;
- `compose`: docker-compose.yml (and the Prometheus scrape targets it must match);
- `k8s`: deploy/k8s, against the services' real subscriptions;
- `mlflow`: the MLflow tracking server in both, its image, and who may reach it;
- `monitoring`: the alert rules and Grafana dashboards, against the metrics the code registers;
- `runbooks`: docs/runbooks, against the installed CLIs.
"""
