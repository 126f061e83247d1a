# Evaluation tests of nix/k8s's pure parts (need only nixpkgs' lib; nix/check.sh
# runs them with NIXPKGS_LIB), and of its options and service modules with
# each environment's settings, against stand-ins for nixidy's options
# (./k8s-modules.nix). The environments themselves need nixidy's
# source: `bash nix/k8s/render.sh --check` evaluates them and compares the
# result with the committed manifests (check.sh runs it when NIXIDY_SRC and
# KUBE_GENERATORS_SRC are set too).
{ lib }:
let
  root = ../..;
  k8s = import ../k8s { inherit lib root; };
  common = import ../k8s/common.nix { inherit lib; };
  dashboards = import ../k8s/dashboards.nix { inherit lib; };
  alerts = import ../k8s/alerts.nix { inherit lib; };
  inherit (k8s)
    services
    edge
    declared
    images
    ;
  platformLib = import ../lib.nix { inherit lib; };
  issuer = platformLib.issuer declared;
  issuerUrl = "http://${issuer.name}:${toString issuer.port}";

  # options.nix, service.nix and nats.nix with each environment's settings
  # (no nixidy), and more `modules`.
  envConfig =
    env: modules:
    import ./k8s-modules.nix { inherit lib; } {
      platformSource = {
        inherit
          services
          edge
          declared
          images
          ;
      };
      modules = [
        ../k8s/nats.nix
        ../k8s/envs/${env}.nix
      ]
      ++ modules;
    };
  dev = envConfig "dev" [ ];
  prod = envConfig "prod" [ ];
  # prod with a NATS of its own elsewhere
  externalNats = envConfig "prod" [
    {
      platform.nats = {
        enable = false;
        url = "nats://nats-1.example.internal:4222,nats://nats-2.example.internal:4222";
      };
    }
  ];

  # NATS (../k8s/nats.nix): the chart's values, and who its NetworkPolicy admits.
  natsValues = config: config.platform.helm.releases.nats.values;
  natsIngress = config: config.applications.nats.resources.networkPolicies.nats.spec.ingress;
  # port -> the peers admitted to it, each as "<namespace>/<app.kubernetes.io/name>"
  # (the NATS servers' own namespace when the peer names none)
  natsAdmitted =
    config:
    lib.foldl' (
      acc: rule:
      let
        port = toString (lib.head rule.ports).port;
        peer =
          from:
          "${
            from.namespaceSelector.matchLabels."kubernetes.io/metadata.name" or config.platform.nats.namespace
          }/${from.podSelector.matchLabels."app.kubernetes.io/name"}";
      in
      acc // { ${port} = (acc.${port} or [ ]) ++ map peer rule.from; }
    ) { } (natsIngress config);
  eventServices = lib.attrNames (lib.filterAttrs (_: s: s.usesEvents) services);
  natsUrl = "nats://nats.nats.svc.cluster.local:${toString common.natsPorts.client}";
  replicasAndResources =
    config: lib.mapAttrs (_: s: { inherit (s) replicas resources; }) config.platform.services;
  # What dev.nix sets for every service (the platform-wide override).
  devResources = dev.platform.resources;

  check = name: cond: if cond then name else throw "nix/tests/k8s.nix: FAILED: ${name}";
  eq =
    name: actual: expected:
    if actual == expected then
      name
    else
      throw "nix/tests/k8s.nix: FAILED: ${name}: got ${builtins.toJSON actual}, want ${builtins.toJSON expected}";
  present = names: lib.filter (n: services ? ${n}) names;
  callers = common.callersOf services;
  panelTitles = s: map (p: p.title) (dashboards.forService s).panels;
  # the Secret a service's identity is mounted from
  secretOf = _: s: (if s.tokenIssuer then s.clientsSecret else s.clientSecret).name;

  # The edge's and the services' applications (../k8s/edge.nix, service.nix)
  # of nix/k8s applied to `args` (other descriptions), in prod.
  appsOf =
    args:
    let
      k = import ../k8s ({ inherit lib root; } // args);
    in
    (import ./k8s-modules.nix { inherit lib; } {
      platformSource = {
        inherit (k)
          services
          edge
          upstreams
          declared
          images
          ;
      };
      modules = [
        ../k8s/edge.nix
        ../k8s/envs/prod.nix
      ];
    })
    // {
      inherit (k) services upstreams;
    };
  ingressRoutes =
    config:
    map (o: o.metadata.name) (
      lib.filter (o: o.kind == "IngressRoute") config.applications.edge.objects
    );
  # services.toml with a web service more (`site`), edge.toml with a router
  # to it: Nix deploys neither yet (part 2, issue 21).
  committedEdgeToml = builtins.fromTOML (builtins.readFile (root + "/deploy/edge/edge.toml"));
  withSite = appsOf {
    description = platformLib.readDescription root // {
      site = {
        port = 8096;
        kind = "web";
        description = "serves a built front end";
      };
    };
    edgeToml = committedEdgeToml // {
      routers = committedEdgeToml.routers ++ [
        {
          name = "site";
          rule = "PathPrefix(`/`)";
          upstream = "site";
          middlewares = [ "rate-limit" ];
          priority = 1;
        }
      ];
    };
  };
  asCommitted = appsOf { };
in
[
  (eq "token verifiers: every service but the issuer (auth)"
    (lib.attrNames (lib.filterAttrs (_: s: s.verifiesTokens) services))
    (present [
      "caller"
      "gateway"
      "greeter"
      "lang"
    ])
  )
  # Who may connect to whom (the NetworkPolicies; the edge below).
  (eq "caller is called by greeter only" (callers "caller") (present [ "greeter" ]))
  (eq "auth is called by every other service (JWKS, service tokens, stats)" (callers "auth")
    (present [
      "caller"
      "gateway"
      "greeter"
      "lang"
    ])
  )
  (eq "lang is called by the gateway" (callers "lang") (present [ "gateway" ]))
  (eq "nobody calls greeter" (callers "greeter") [ ])
  (eq "nobody calls gateway" (callers "gateway") [ ])
  (eq "each token client's Secret and the issuer's clients Secret" (lib.mapAttrs secretOf services) (
    lib.mapAttrs (n: _: if n == issuer.name then "${n}-clients" else "${n}-client") services
  ))
  (check "a token client's ConfigMap names the issuer's keys and token endpoint" (
    lib.all (
      s:
      s.tokenIssuer
      || (
        s.env.AUTH_JWKS_URL == "${issuerUrl}/auth/.well-known/jwks.json"
        && s.env.AUTH_TOKEN_URL == "${issuerUrl}/auth/token"
      )
    ) (lib.attrValues services)
  ))
  # Replicas and resources: production's from services.toml, dev's its own.
  (eq "prod: each service's replicas and resources are its services.toml values"
    (replicasAndResources prod)
    (lib.mapAttrs (_: s: { inherit (s) replicas resources; }) services)
  )
  (eq "dev: one replica each, with dev's small requests and limits" (replicasAndResources dev) (
    lib.mapAttrs (_: _: {
      replicas = 1;
      resources = devResources;
    }) services
  ))
  (eq "prod: the autoscaler's floor is services.toml's replicas; no fixed count on the Deployment"
    (lib.mapAttrs (n: _: {
      min = prod.applications.${n}.resources.horizontalPodAutoscalers.${n}.spec.minReplicas;
      fixed = prod.applications.${n}.resources.deployments.${n}.spec.replicas;
    }) services)
    (
      lib.mapAttrs (_: s: {
        min = s.replicas;
        fixed = null;
      }) services
    )
  )
  (eq "the issuer alone gets edge.toml's trusted proxies" (lib.attrNames (
    lib.filterAttrs (
      n: _: prod.applications.${n}.resources.configMaps.${n}.data ? AUTH_TRUSTED_PROXIES
    ) services
  )) (present [ issuer.name ]))
  (eq "Kubernetes' trusted proxies come from edge.toml" edge.trusted_proxies.kubernetes [
    "10.244.0.0/16"
  ])
  (eq "the edge's middlewares: forward-auth, and forward-auth-admin asking for the admin role"
    (lib.mapAttrs (_: m: m.forwardAuth.address) (
      lib.filterAttrs (_: m: m ? forwardAuth) edge.middlewares
    ))
    {
      forward-auth = "{auth}/auth/verify";
      forward-auth-admin = "{auth}/auth/verify?role=admin";
    }
  )
  (eq "the edge reaches every routed service and auth, never caller"
    (lib.sort lib.lessThan (common.edgeTargets edge declared))
    [
      "auth"
      "gateway"
      "greeter"
      "lang"
    ]
  )
  (check "every router's upstream is declared" (lib.all (r: declared ? ${r.upstream}) edge.routers))
  (eq "no IngressRoute for a router to a web service (deployed in part 2, issue 21)"
    (ingressRoutes asCommitted)
    (map (r: r.name) (lib.filter (r: declared.${r.upstream}.kind != "web") committedEdgeToml.routers))
  )
  (eq "a web service more, routed: no app of its own, no route, the same objects otherwise"
    {
      services = lib.attrNames withSite.services;
      routed = withSite.upstreams ? site;
      routes = ingressRoutes withSite;
      failedAssertions = lib.filter (a: !a.assertion) withSite.nixidy.assertions;
      inherit (withSite) applications;
    }
    {
      services = lib.attrNames services;
      routed = false;
      routes = ingressRoutes asCommitted;
      failedAssertions = [ ];
      inherit (asCommitted) applications;
    }
  )
  (eq "service URL" (common.serviceUrl "platform" declared.auth)
    "http://auth.platform.svc.cluster.local:${toString declared.auth.port}"
  )
  (eq "the edge's upstreams: its routers' services, h2c for grpc ones" k8s.upstreams (
    lib.genAttrs (lib.unique (map (r: r.upstream) edge.routers)) (n: {
      scheme = if declared.${n}.kind == "grpc" then "h2c" else "http";
    })
  ))
  (check
    "a breaker panel exactly for services calling a peer besides the issuer (none for JWKS, tokens)"
    (
      lib.all (
        s:
        lib.any (lib.hasPrefix "Circuit breaker") (panelTitles s) == (lib.remove issuer.name s.peers != [ ])
      ) (lib.attrValues services)
    )
  )
  (eq "... greeter and gateway"
    (lib.attrNames (lib.filterAttrs (_: s: s.callsThroughBreakers) services))
    (present [
      "gateway"
      "greeter"
    ])
  )
  (check "every dashboard query selects the service's own series" (
    lib.all (
      s:
      lib.all (t: lib.hasInfix ''service="${s.name}"'' t.expr) (
        lib.concatMap (p: p.targets) (dashboards.forService s).panels
      )
    ) (lib.attrValues services)
  ))
  (eq "one service-down alert per service" (map (r: r.labels.service) (
    lib.filter (r: r.alert == "PlatformServiceDown")
      (lib.head (alerts.forServices services).groups).rules
  )) (lib.attrNames services))
  (eq "event backbone alerts: outbox lag, dead letters, consumer lag"
    (lib.filter (
      a:
      lib.elem a [
        "PlatformOutboxLag"
        "PlatformDeadLetters"
        "PlatformConsumerLag"
      ]
    ) (map (r: r.alert) (lib.head (alerts.forServices services).groups).rules))
    [
      "PlatformOutboxLag"
      "PlatformDeadLetters"
      "PlatformConsumerLag"
    ]
  )
  (check "every dashboard shows the outbox and the consumers" (
    lib.all (s: lib.elem "Outbox: pending events and the oldest one's age" (panelTitles s)) (
      lib.attrValues services
    )
  ))
  (eq "Helm charts pinned with a hash" (lib.all (c: lib.hasPrefix "sha256-" c.chartHash) (
    lib.attrValues (import ../k8s/charts.nix)
  )) true)
  (eq "NATS's chart: the official one, pinned by version and hash"
    (lib.getAttrs [ "repo" "chart" "version" ] prod.platform.helm.releases.nats.chart)
    {
      repo = "https://nats-io.github.io/k8s/helm/charts/";
      chart = "nats";
      version = "2.14.2";
    }
  )
  (eq "prod NATS: a three-server JetStream cluster, each on a 10Gi volume, spread across nodes"
    (
      let
        v = natsValues prod;
      in
      {
        inherit (v.config) cluster;
        jetstream = v.config.jetstream.enabled;
        pvc = v.config.jetstream.fileStore.pvc.size;
        spread = v.podTemplate.topologySpreadConstraints ? "kubernetes.io/hostname";
      }
    )
    {
      cluster = {
        enabled = true;
        replicas = 3;
        port = common.natsPorts.cluster;
      };
      jetstream = true;
      pvc = "10Gi";
      spread = true;
    }
  )
  (eq "dev NATS: one server, not clustered, JetStream on a 1Gi volume"
    (
      let
        v = natsValues dev;
      in
      {
        inherit (v.config.cluster) enabled replicas;
        jetstream = v.config.jetstream.enabled;
        pvc = v.config.jetstream.fileStore.pvc.size;
      }
    )
    {
      enabled = false;
      replicas = 1;
      jetstream = true;
      pvc = "1Gi";
    }
  )
  (check "NATS's containers: non-root, restricted, with requests and limits; no probe-less sidecars" (
    lib.all
      (
        config:
        let
          v = natsValues config;
        in
        v.container.merge.securityContext == common.restrictedContainer
        && v.podTemplate.merge.spec.securityContext.runAsNonRoot
        && v.container.resources.requests ? memory
        && v.container.resources.limits ? memory
        && !v.reloader.enabled
        && !v.natsBox.enabled
        && (v.promExporter.enabled -> v.promExporter.merge ? readinessProbe)
      )
      [
        dev
        prod
      ]
  ))
  (eq
    "NATS admits to its client port exactly the services that use events, from the platform's namespace"
    (map (config: (natsAdmitted config).${toString common.natsPorts.client}) [
      dev
      prod
    ])
    (lib.genList (_: map (n: "platform/${n}") eventServices) 2)
  )
  (eq "... which are all five (caller announces call.completed)" eventServices (present [
    "auth"
    "caller"
    "gateway"
    "greeter"
    "lang"
  ]))
  (eq "... to its cluster port only its own servers (prod), and its exporter only Prometheus (dev)"
    (map (config: removeAttrs (natsAdmitted config) [ (toString common.natsPorts.client) ]) [
      dev
      prod
    ])
    [
      { ${toString common.natsPorts.metrics} = [ "monitoring/prometheus" ]; }
      { ${toString common.natsPorts.cluster} = [ "nats/nats" ]; }
    ]
  )
  (check "... and denies the rest of its namespace by default" (
    lib.all
      (
        config:
        config.applications.nats.resources.networkPolicies.default-deny.spec == {
          podSelector = { };
          policyTypes = [ "Ingress" ];
        }
      )
      [
        dev
        prod
      ]
  ))
  (eq
    "NATS_URL (the chart's Service) and a copy of each stream per server, for exactly the services that use events"
    (map
      (
        config:
        lib.mapAttrs (
          n: _:
          let
            inherit (config.applications.${n}.resources.configMaps.${n}) data;
          in
          if data ? NATS_URL then { inherit (data) NATS_URL EVENTS_STREAM_REPLICAS; } else null
        ) services
      )
      [
        dev
        prod
      ]
    )
    (
      map
        (
          replicas:
          lib.mapAttrs (
            _: s:
            if s.usesEvents then
              {
                NATS_URL = natsUrl;
                EVENTS_STREAM_REPLICAS = replicas;
              }
            else
              null
          ) services
        )
        [
          "1"
          "3"
        ]
    )
  )
  (check "platform.nats.enable = false: no NATS in the cluster; the services use platform.nats.url" (
    !(externalNats.applications ? nats)
    && !(externalNats.platform.helm.releases ? nats)
    && lib.all (
      n:
      externalNats.applications.${n}.resources.configMaps.${n}.data.NATS_URL
      == externalNats.platform.nats.url
    ) eventServices
  ))
  (eq "the in-cluster PostgreSQL runs deploy/images.toml's image, in both environments"
    [
      dev.platform.postgres.image
      prod.platform.postgres.image
    ]
    [
      images.postgres
      images.postgres
    ]
  )
]
