# One Argo CD application per service, generated from its table in
# services.toml (through nix/lib.nix's k8sDefaults): ServiceAccount,
# ConfigMap, Deployment, Service, NetworkPolicy, and in prod a
# PodDisruptionBudget and a HorizontalPodAutoscaler.
#
# Secrets are referenced, never written: `<service>-db` (key `url`, the
# DATABASE_URL) for every service; `<service>-client` (key `secret`, its
# client secret at auth: SERVICE_CLIENT_SECRET_FILE) for every service but
# auth; `auth-signing-key` (key `signing-key.pem`) and `auth-clients` (key
# `clients`, the clients' `<id>:<sha256>` lines: AUTH_CLIENTS_FILE) for auth.
# All but the DATABASE_URL are mounted as files. deploy/k8s/README.md says
# how to create them.
#
# Migrations need nothing here: every service applies its own at start, and
# sqlx holds a PostgreSQL advisory lock while it does (crates/platform/src/db.rs),
# so replicas starting together migrate once.
{
  lib,
  config,
  platformSource,
  ...
}:
let
  common = import ./common.nix { inherit lib; };
  cfg = config.platform;
  inherit (platformSource) services edge declared;

  enabled = lib.filterAttrs (name: _: cfg.services.${name}.enable) services;
  edgeTargets = common.edgeTargets edge declared;

  # Files a service reads from a Secret, mounted read-only under
  # /run/secrets/<secret>/<key>: the issuer's (auth's) signing key and its
  # file of clients, every other service's client secret.
  secretFiles =
    s:
    lib.optionals s.tokenIssuer [
      {
        env = "AUTH_SIGNING_KEY_FILE";
        secret = "${s.name}-signing-key";
        key = "signing-key.pem";
      }
      {
        env = "AUTH_CLIENTS_FILE";
        secret = s.clientsSecret.name;
        inherit (s.clientsSecret) key;
      }
    ]
    ++ lib.optional (s.clientSecret != null) {
      env = "SERVICE_CLIENT_SECRET_FILE";
      secret = s.clientSecret.name;
      inherit (s.clientSecret) key;
    };

  mkService =
    name: s:
    let
      svc = cfg.services.${name};
      selector = common.selectorFor name;
      labels = common.labelsFor name // {
        "app.kubernetes.io/version" = s.image.tag;
      };
      portName = if s.kind == "grpc" then "grpc" else "http";
      files = secretFiles s;

      env =
        s.env
        // {
          OTEL_EXPORTER_OTLP_ENDPOINT = cfg.observability.otlpEndpoint;
          DATABASE_MAX_CONNECTIONS = toString cfg.database.maxConnections;
          DATABASE_CONNECT_TIMEOUT_SECS = toString cfg.database.connectTimeoutSecs;
        }
        # The broker, for the services that publish or consume events, with
        # a copy of each stream on every NATS server.
        // lib.optionalAttrs s.usesEvents {
          NATS_URL = cfg.nats.url;
          EVENTS_STREAM_REPLICAS = toString cfg.nats.replicas;
        }
        # Traefik's requests (forward-auth, the credentials' endpoints) reach
        # the issuer (auth) from the pod network edge.toml names.
        // lib.optionalAttrs (s.tokenIssuer && cfg.edge.trustedProxies != [ ]) {
          AUTH_TRUSTED_PROXIES = lib.concatStringsSep "," cfg.edge.trustedProxies;
        }
        // lib.listToAttrs (map (f: lib.nameValuePair f.env "/run/secrets/${f.secret}/${f.key}") files)
        // svc.env;

      callers = lib.filter (c: enabled ? ${c}) (common.callersOf services name);
      port = [ (common.tcp s.port) ];

      probe = path: {
        httpGet = {
          inherit path;
          port = portName;
        };
        timeoutSeconds = 2;
      };
    in
    {
      inherit (cfg) namespace;

      resources = {
        serviceAccounts.${name} = {
          metadata.labels = labels;
          automountServiceAccountToken = false;
        };

        configMaps.${name} = {
          metadata.labels = labels;
          data = env;
        };

        deployments.${name} = {
          metadata.labels = labels;
          spec = {
            # With an autoscaler the HPA owns the count; Argo CD must not reset it.
            replicas = if cfg.autoscaling.enable then null else svc.replicas;
            revisionHistoryLimit = 5;
            selector.matchLabels = selector;
            strategy = {
              type = "RollingUpdate";
              rollingUpdate = {
                maxUnavailable = 0;
                maxSurge = 1;
              };
            };
            template = {
              metadata = {
                inherit labels;
                annotations = {
                  # Rolls the pods when their configuration changes.
                  "checksum/config" = builtins.hashString "sha256" (builtins.toJSON env);
                  "prometheus.io/scrape" = "true";
                  "prometheus.io/port" = toString s.port;
                  "prometheus.io/path" = "/metrics";
                };
              };
              spec = {
                serviceAccountName = name;
                automountServiceAccountToken = false;
                # Service links would add AUTH_PORT=tcp://… and the like to the
                # environment, which the services read.
                enableServiceLinks = false;
                securityContext = common.podSecurity common.uid;
                terminationGracePeriodSeconds = 30;
                topologySpreadConstraints = lib.mkIf cfg.spreadAcrossNodes [
                  {
                    maxSkew = 1;
                    topologyKey = "kubernetes.io/hostname";
                    whenUnsatisfiable = "ScheduleAnyway";
                    labelSelector.matchLabels = selector;
                  }
                ];
                containers.${name} = {
                  inherit (svc) image resources;
                  imagePullPolicy = cfg.image.pullPolicy;
                  ports.${portName}.containerPort = s.port;
                  envFrom = [ { configMapRef.name = name; } ];
                  env.DATABASE_URL.valueFrom.secretKeyRef = s.databaseUrlSecret;
                  securityContext = s.securityContext;
                  # Start-up waits for PostgreSQL and runs the migrations.
                  startupProbe = probe s.probes.liveness.path // {
                    periodSeconds = 2;
                    failureThreshold = 60;
                  };
                  livenessProbe = probe s.probes.liveness.path // {
                    periodSeconds = 10;
                    failureThreshold = 3;
                  };
                  readinessProbe = probe s.probes.readiness.path // {
                    periodSeconds = 5;
                    failureThreshold = 2;
                  };
                  # Let endpoints drop the pod before it stops accepting
                  # (SHUTDOWN_GRACE_SECS then drains in-flight requests).
                  lifecycle.preStop.sleep.seconds = 5;
                  volumeMounts = {
                    "/tmp".name = "tmp";
                  }
                  // lib.listToAttrs (
                    map (
                      f:
                      lib.nameValuePair "/run/secrets/${f.secret}" {
                        name = f.secret;
                        readOnly = true;
                      }
                    ) files
                  );
                };
                volumes = {
                  tmp.emptyDir.sizeLimit = "16Mi";
                }
                // lib.listToAttrs (
                  map (
                    f:
                    lib.nameValuePair f.secret {
                      secret = {
                        secretName = f.secret;
                        items = [
                          {
                            inherit (f) key;
                            path = f.key;
                          }
                        ];
                        defaultMode = 288; # 0440: the pod's group (fsGroup) reads it
                      };
                    }
                  ) files
                );
              };
            };
          };
        };

        services.${name} = {
          metadata.labels = labels;
          spec = {
            inherit selector;
            ports.${portName} = {
              inherit (s) port;
              targetPort = portName;
              protocol = "TCP";
              # gRPC, gRPC-Web and Connect share the port over cleartext HTTP/2.
              appProtocol = if s.kind == "grpc" then "kubernetes.io/h2c" else "http";
            };
          };
        };

        # Only the edge (if it routes here), the services that call this one
        # (its callers by services.toml's peers, and for the issuer every
        # token verifier: caller admits greeter; lang the edge and gateway; auth
        # the edge and every service; greeter and gateway the edge), and
        # Prometheus (for /metrics, on the same port) get in.
        networkPolicies.${name} = {
          metadata.labels = labels;
          spec = {
            podSelector.matchLabels = selector;
            policyTypes = [ "Ingress" ];
            ingress =
              lib.optional (lib.elem name edgeTargets) {
                from = [ (common.podsIn cfg.edgeNamespace common.traefikPods) ];
                ports = port;
              }
              ++ lib.optional (callers != [ ]) {
                from = map (c: { podSelector.matchLabels = common.selectorFor c; }) callers;
                ports = port;
              }
              ++ [
                {
                  from = [ (common.podsIn cfg.monitoringNamespace common.prometheusPods) ];
                  ports = port;
                }
              ];
          };
        };

        podDisruptionBudgets.${name} = lib.mkIf cfg.disruptionBudgets {
          metadata.labels = labels;
          spec = {
            maxUnavailable = 1;
            selector.matchLabels = selector;
          };
        };

        horizontalPodAutoscalers.${name} = lib.mkIf cfg.autoscaling.enable {
          metadata.labels = labels;
          spec = {
            scaleTargetRef = {
              apiVersion = "apps/v1";
              kind = "Deployment";
              inherit name;
            };
            minReplicas = svc.replicas;
            inherit (cfg.autoscaling) maxReplicas;
            metrics = [
              {
                type = "Resource";
                resource = {
                  name = "cpu";
                  target = {
                    type = "Utilization";
                    averageUtilization = cfg.autoscaling.cpuUtilization;
                  };
                };
              }
            ];
          };
        };
      };
    };
in
{
  applications = lib.mapAttrs mkService enabled;
}
