# Evaluation tests of nix/k8s's pure parts (need only nixpkgs' lib; nix/check.sh
# runs them with NIXPKGS_LIB). The environments themselves need nixidy's
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
  inherit (k8s) services edge declared;

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
in
[
  (eq "token verifiers: the crates depending on crates/authn"
    (lib.attrNames (lib.filterAttrs (_: s: s.verifiesTokens) services))
    (present [
      "auth"
      "gateway"
    ])
  )
  (eq "caller is called by greeter only" (callers "caller") (present [ "greeter" ]))
  (eq "auth is called by the gateway (peer and JWKS)" (callers "auth") (present [ "gateway" ]))
  (eq "lang is called by the gateway" (callers "lang") (present [ "gateway" ]))
  (eq "nobody calls greeter" (callers "greeter") [ ])
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
  (eq "service URL" (common.serviceUrl "platform" declared.auth)
    "http://auth.platform.svc.cluster.local:8090"
  )
  (check "a breaker panel exactly for services with peers" (
    lib.all (
      s: lib.any (lib.hasPrefix "Circuit breaker") (panelTitles s) == (s.peers != [ ])
    ) (lib.attrValues services)
  ))
  (check "every dashboard query selects the service's own series" (
    lib.all (
      s:
      lib.all (t: lib.hasInfix ''service="${s.name}"'' t.expr) (
        lib.concatMap (p: p.targets) (dashboards.forService s).panels
      )
    ) (lib.attrValues services)
  ))
  (eq "one service-down alert per service"
    (map (r: r.labels.service) (
      lib.filter (r: r.alert == "PlatformServiceDown") (lib.head (alerts.forServices services).groups)
      .rules
    ))
    (lib.attrNames services)
  )
  (eq "Helm charts pinned with a hash" (lib.all (c: lib.hasPrefix "sha256-" c.chartHash) (
    lib.attrValues (import ../k8s/charts.nix)
  )) true)
]
