# NixOS VM test `restart` (checks.<system>.vm-restart): data survives service
# restarts. On the node of ./vm-common.nix: an account and a greeting are
# created through the edge; greeter and auth are restarted (new processes,
# checked by PID), then every service at once; the greeting is still listed,
# the account still logs in, and the access token issued before the restarts
# is still accepted (auth's signing key is state, not regenerated per start),
# and greeter still reaches caller with a service token (the client secrets
# and auth's clients file are state too).
#
# Sources read: see ./vm-common.nix and ./vm-platform.nix.
{ common }:
{
  name = "platform-restart";

  nodes.machine = common.node;

  testScript = common.prelude + ''
    EMAIL = "grace@example.com"
    PASSWORD = "copper kettle 19 meadow"


    def listed_ids(token: str) -> list[str]:
        page = rpc("greeter.v1.GreeterService/ListGreetings", {"pageSize": 100}, token).expect(200).json()
        return [str(g["id"]) for g in page.get("greetings", [])]


    def restart(names: list[str]) -> None:
        before = {name: main_pid(f"platform-{name}.service") for name in names}
        machine.succeed("systemctl restart " + " ".join(f"platform-{name}.service" for name in names))
        for name in names:
            wait_ready(name)
            assert main_pid(f"platform-{name}.service") != before[name], f"{name} was not restarted"


    start_all()
    wait_for_platform()

    with subtest("an account and a greeting"):
        token = signup(EMAIL, PASSWORD)
        greeting = rpc("greeter.v1.GreeterService/Greet", {"name": "Grace", "url": f"{HTTP_TARGET}/hello.txt"}, token).expect(200).json()
        greeting_id = str(greeting["greetingId"])
        assert greeting_id in listed_ids(token)

    with subtest("greeter restarts: the greeting is still listed"):
        restart(["greeter"])
        assert greeting_id in listed_ids(token)

    with subtest("auth restarts: the account logs in, the earlier token is still valid"):
        restart(["auth"])
        login(EMAIL, PASSWORD)
        me = request("GET", f"{EDGE}/auth/me", token=token).expect(200).json()
        assert me["email"] == EMAIL, me
        # greeter's call to caller needs a service token, which auth still issues
        again = rpc("greeter.v1.GreeterService/Greet", {"name": "Grace", "url": f"{HTTP_TARGET}/hello.txt"}, token).expect(200).json()
        assert again["externalStatus"] == 200, again

    with subtest("every service restarts at once: nothing is lost"):
        restart(list(PORTS))
        fresh = login(EMAIL, PASSWORD)
        assert greeting_id in listed_ids(fresh)
        last = rpc("greeter.v1.GreeterService/Greet", {"name": "Grace", "url": f"{HTTP_TARGET}/hello.txt"}, fresh).expect(200).json()
        assert last["externalStatus"] == 200, last
  '';
}
