from django.apps import AppConfig


class PoliciesConfig(AppConfig):
    name = "policies"

    def ready(self) -> None:
        # Gates register here (ARCHITECTURE.md, Gates), as event subscribers do: the registry asks them
        # before a push or a delete without importing this app.
        from policies.gates import IMMUTABILITY
        from registry.gates import DELETE, PUSH, gate_register

        gate_register(gate=IMMUTABILITY, actions=(PUSH, DELETE))
