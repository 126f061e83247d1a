# prod: images from a registry (by tag, or by digest through
# platform.services.<service>.imageDigest), two replicas or more with an
# autoscaler and a disruption budget each, requests equal to the memory
# limit, an external PostgreSQL (the `<service>-db` Secrets' `url`), and the
# observability stack only if asked for.
{ lib, ... }:
{
  platform = {
    image = {
      registry = lib.mkDefault "registry.example.com";
      pullPolicy = "IfNotPresent";
    };
    replicas = 2;
    autoscaling = {
      enable = true;
      maxReplicas = 6;
      cpuUtilization = 70;
    };
    disruptionBudgets = true;
    spreadAcrossNodes = true;
    resources = {
      requests = {
        cpu = "100m";
        memory = "128Mi";
      };
      limits = {
        cpu = "500m";
        memory = "128Mi";
      };
    };
    # bcrypt is CPU-bound: auth gets more CPU than the rest.
    services.auth.resources = {
      requests = {
        cpu = "250m";
        memory = "128Mi";
      };
      limits = {
        cpu = "1";
        memory = "128Mi";
      };
    };
    postgres.inCluster = false;
    database.maxConnections = 5;
    observability = {
      enable = lib.mkDefault false;
      nodePorts = false;
    };
    edge = {
      serviceType = "LoadBalancer";
      nodePort = null;
      replicas = 2;
    };
  };
}
