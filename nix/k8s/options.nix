# The knobs an environment turns (./envs/dev.nix, ./envs/prod.nix). Every
# default is the dev (kind) value and prod overrides what differs, but for
# each service's replicas and resources: those default to its production
# values in services.toml, and dev sets its own for every service
# (platform.replicas, platform.resources).
{
  lib,
  config,
  platformSource,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.platform;
  common = import ./common.nix { inherit lib; };

  resourcesType = types.submodule {
    options = {
      requests = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
      limits = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
    };
  };

  serviceOptions =
    name: defaults:
    { config, ... }:
    {
      options = {
        enable = mkOption {
          type = types.bool;
          default = true;
          description = "Deploy ${name}.";
        };
        replicas = mkOption {
          type = types.ints.positive;
          default = if cfg.replicas != null then cfg.replicas else defaults.replicas;
          defaultText = "config.platform.replicas, or services.toml's ${name}.replicas (${toString defaults.replicas})";
          description = "How many pods of ${name} run (with autoscaling: the least).";
        };
        resources = mkOption {
          type = resourcesType;
          default = if cfg.resources != null then cfg.resources else defaults.resources;
          defaultText = "config.platform.resources, or services.toml's ${name}.resources";
        };
        env = mkOption {
          type = types.attrsOf types.str;
          default = { };
          description = "Extra (non-secret) environment for ${name}, added to its ConfigMap.";
        };
        imageDigest = mkOption {
          type = types.nullOr (types.strMatching "sha256:[0-9a-f]{64}");
          default = null;
          description = "Pin ${name}'s image by digest instead of its tag (registry images).";
        };
        image = mkOption {
          type = types.str;
          readOnly = true;
          description = "The image reference the Deployment runs.";
          default =
            let
              repository =
                if cfg.image.registry == null then
                  defaults.image.repository
                else
                  "${cfg.image.registry}/${defaults.image.repository}";
            in
            if config.imageDigest != null then
              "${repository}@${config.imageDigest}"
            else
              "${repository}:${defaults.image.tag}";
        };
      };
    };
in
{
  options.platform = {
    namespace = mkOption {
      type = types.str;
      default = "platform";
      description = "Namespace of the services (and of PostgreSQL in dev).";
    };
    edgeNamespace = mkOption {
      type = types.str;
      default = "traefik";
    };
    monitoringNamespace = mkOption {
      type = types.str;
      default = "monitoring";
    };

    repository = mkOption {
      type = types.str;
      default = "https://github.com/example/platform.git";
      description = "The Git repository Argo CD syncs the manifests from: set it to your fork's URL.";
    };
    branch = mkOption {
      type = types.str;
      default = "main";
    };

    helm = {
      render = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Render the Helm releases (Traefik, NATS, Prometheus, Grafana, Loki,
          Promtail, Tempo) with nixidy. Rendering downloads and templates the
          charts, which needs a build; nix/k8s/render.sh turns this off to
          evaluate the rest with Nix alone.
        '';
      };
      releases = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              app = mkOption { type = types.str; };
              chart = mkOption {
                type = types.attrsOf types.str;
                description = "A pin from ./charts.nix.";
              };
              values = mkOption {
                type = types.attrsOf types.anything;
                default = { };
              };
            };
          }
        );
        default = { };
        description = "The Helm releases, by release name; ./helm.nix hands them to nixidy.";
      };
    };

    image = {
      registry = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "ghcr.io/example";
        description = ''
          Where the images come from. null: the local names `nix build .#images`
          produces (`platform/<service>:<version>`), loaded into kind.
        '';
      };
      pullPolicy = mkOption {
        type = types.enum [
          "IfNotPresent"
          "Always"
          "Never"
        ];
        default = "IfNotPresent";
      };
    };

    replicas = mkOption {
      type = types.nullOr types.ints.positive;
      default = null;
      description = ''
        Replicas of every service in this environment. null: each service's
        own `replicas` in services.toml (the production count).
      '';
    };
    resources = mkOption {
      type = types.nullOr resourcesType;
      default = null;
      description = ''
        Requests and limits of every service in this environment. null: each
        service's own `resources` in services.toml (production's).
      '';
    };
    autoscaling = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = "A HorizontalPodAutoscaler per service (CPU), from `replicas` up to `maxReplicas`.";
      };
      maxReplicas = mkOption {
        type = types.ints.positive;
        default = 6;
      };
      cpuUtilization = mkOption {
        type = types.ints.between 1 100;
        default = 70;
      };
    };
    disruptionBudgets = mkOption {
      type = types.bool;
      default = false;
      description = "A PodDisruptionBudget per service (at most one pod down at a time).";
    };
    spreadAcrossNodes = mkOption {
      type = types.bool;
      default = false;
    };

    services = mkOption {
      type = types.submodule {
        options = lib.mapAttrs (
          name: defaults:
          mkOption {
            type = types.submodule (serviceOptions name defaults);
            default = { };
          }
        ) platformSource.services;
      };
      default = { };
      description = "Per-service settings; defaults from services.toml.";
    };

    postgres = {
      inCluster = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Run PostgreSQL in the cluster (a StatefulSet and an init Job). When
          false the services use whatever server the `<service>-db` Secrets'
          `url` names (an external PostgreSQL).
        '';
      };
      image = mkOption {
        type = types.str;
        default = platformSource.images.postgres;
        defaultText = "deploy/images.toml's postgres";
      };
      storage = mkOption {
        type = types.str;
        default = "1Gi";
      };
    };
    database = {
      maxConnections = mkOption {
        type = types.ints.positive;
        default = 10;
        description = "Each replica's pool size (DATABASE_MAX_CONNECTIONS).";
      };
      connectTimeoutSecs = mkOption {
        type = types.ints.positive;
        default = 60;
        description = "How long a starting service waits for PostgreSQL (DATABASE_CONNECT_TIMEOUT_SECS).";
      };
    };

    nats = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Run NATS with JetStream in the cluster (the official Helm chart,
          ./nats.nix). When false, set `url` to the broker the services use.
        '';
      };
      namespace = mkOption {
        type = types.str;
        default = "nats";
      };
      replicas = mkOption {
        # EVENTS_STREAM_REPLICAS, which JetStream allows up to 5
        type = types.ints.between 1 5;
        default = 1;
        description = ''
          NATS servers. More than one form a JetStream cluster (3 survive the
          loss of one: its Raft groups need a majority), and every stream
          keeps this many copies (the services' EVENTS_STREAM_REPLICAS).
        '';
      };
      storage = mkOption {
        type = types.str;
        default = "1Gi";
        description = "Each server's JetStream file store: a PersistentVolumeClaim of this size (also the store's limit).";
      };
      resources = mkOption {
        type = resourcesType;
        default = {
          requests = {
            cpu = "50m";
            memory = "64Mi";
          };
          limits = {
            cpu = "1";
            memory = "256Mi";
          };
        };
      };
      url = mkOption {
        type = types.str;
        default = "nats://nats.${cfg.nats.namespace}.svc.cluster.local:${toString common.natsPorts.client}";
        defaultText = "nats://nats.<platform.nats.namespace>.svc.cluster.local:4222 (the chart's Service)";
        description = "NATS_URL of every service that uses events (a cluster's nodes may be listed, comma-separated).";
      };
    };

    edge = {
      replicas = mkOption {
        type = types.ints.positive;
        default = 1;
      };
      serviceType = mkOption {
        type = types.enum [
          "NodePort"
          "LoadBalancer"
          "ClusterIP"
        ];
        default = "NodePort";
      };
      nodePort = mkOption {
        type = types.nullOr types.port;
        default = platformSource.edge.entrypoint.port;
        defaultText = "deploy/edge/edge.toml's entrypoint.port (30081)";
      };
      trustedProxies = mkOption {
        type = types.listOf types.str;
        default = platformSource.edge.trusted_proxies.kubernetes or [ ];
        defaultText = "deploy/edge/edge.toml's trusted_proxies.kubernetes";
        description = ''
          CIDRs the edge's requests reach auth from (the pod network Traefik
          runs in): auth believes their X-Forwarded-For (AUTH_TRUSTED_PROXIES).
        '';
      };
    };

    observability = {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = "Prometheus, Grafana, Loki, Promtail and Tempo in the monitoring namespace.";
      };
      nodePorts = mkOption {
        type = types.bool;
        default = true;
        description = "Expose Prometheus on 30090 and Grafana on 30300 (kind); ClusterIP otherwise.";
      };
      otlpEndpoint = mkOption {
        type = types.str;
        default =
          if cfg.observability.enable then
            "http://tempo.${cfg.monitoringNamespace}.svc.cluster.local:4318"
          else
            "";
        defaultText = "Tempo's OTLP/HTTP endpoint when observability is enabled, else empty (no export)";
        description = "OTEL_EXPORTER_OTLP_ENDPOINT of every service (OTLP/HTTP with protobuf: the services post to <endpoint>/v1/traces); empty disables trace export.";
      };
    };
  };

  config.nixidy = {
    target = {
      repository = lib.mkDefault cfg.repository;
      branch = lib.mkDefault cfg.branch;
      # nixidy's mkEnvs defaults this to ./manifests/<env>; the repository keeps them here.
      rootPath = "./deploy/k8s/manifests/${config.nixidy.env}";
    };
    k8sVersion = lib.mkDefault "1.33";
    defaults.syncPolicy.autoSync = {
      enable = true;
      prune = true;
      selfHeal = true;
    };
  };
}
