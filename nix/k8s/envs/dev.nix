# dev: a kind cluster (deploy/k8s/kind.yaml maps the NodePorts to localhost).
# Images are the local `platform/<service>:<version>` that `nix build .#images`
# produces and `kind load image-archive` loads; one small replica each
# (services.toml's replicas and resources are production's); PostgreSQL, one
# NATS server and the observability stack in the cluster. The other defaults of
# ../options.nix are the dev values, so this file only names them.
{
  platform = {
    image.registry = null;
    replicas = 1;
    resources = {
      requests = {
        cpu = "10m";
        memory = "32Mi";
      };
      limits = {
        cpu = "1";
        memory = "256Mi";
      };
    };
    postgres.inCluster = true;
    # One NATS server, JetStream on a 1 GiB volume (kind's local-path storage).
    nats = {
      replicas = 1;
      storage = "1Gi";
    };
    observability = {
      enable = true;
      nodePorts = true; # Prometheus :30090, Grafana :30300
    };
    edge = {
      serviceType = "NodePort"; # Traefik :30081
      replicas = 1;
    };
  };
}
