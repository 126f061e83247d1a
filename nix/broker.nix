# The event broker of a NixOS host, shared by the platform's services that
# publish or consume events (nix/lib.nix `usesEvents`). Imported by every
# service module (./module.nix; the module system loads it once), which
# enables the local NATS and sets NATS_URL when such a service is enabled.
#
#   services.platform.broker = { local, url }
{ config, lib, ... }:
let
  inherit (lib) literalExpression mkOption types;
in
{
  options.services.platform.broker = {
    local = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Run NATS with JetStream on this machine (`services.nats`, listening
        on loopback only, its store in `services.nats.dataDir`) when a service
        that uses events is enabled, and start those services after it. false:
        leave `services.nats` alone and point `url` at the broker to use.
      '';
    };

    url = mkOption {
      type = types.str;
      default = "nats://127.0.0.1:${toString config.services.nats.port}";
      defaultText = literalExpression ''"nats://127.0.0.1:''${toString config.services.nats.port}"'';
      example = "nats://nats-1.internal:4222,nats://nats-2.internal:4222";
      description = ''
        NATS_URL of every service that uses events (a cluster's servers may
        be listed, comma-separated). While the broker is away the services
        keep working and their events wait in their outboxes.
      '';
    };
  };
}
