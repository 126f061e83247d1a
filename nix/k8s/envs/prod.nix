# prod: images from a registry (by tag, or by digest through
# platform.services.<service>.imageDigest), each service's replicas and
# resources as services.toml has them (its replicas the autoscaler's floor),
# an autoscaler and a disruption budget each, an external PostgreSQL (the
# `<service>-db` Secrets' `url`), a three-server NATS cluster with 10 GiB of
# JetStream storage each, and the observability stack only if asked for.
{ lib, ... }:
{
  platform = {
    image = {
      registry = lib.mkDefault "registry.example.com";
      pullPolicy = "IfNotPresent";
    };
    autoscaling = {
      enable = true;
      maxReplicas = 6;
      cpuUtilization = 70;
    };
    disruptionBudgets = true;
    spreadAcrossNodes = true;
    postgres.inCluster = false;
    database.maxConnections = 5;
    nats = {
      replicas = 3;
      storage = "10Gi";
      resources = {
        requests = {
          cpu = "250m";
          memory = "512Mi";
        };
        limits = {
          cpu = "1";
          memory = "1Gi";
        };
      };
    };
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
