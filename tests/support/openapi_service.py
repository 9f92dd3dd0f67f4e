"""A small pet service with an OpenAPI 3 spec, served by the stdlib on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

TOKEN = "secret-token"
DELAY = 0.3  # seconds per age lookup: long enough for overlap to show

SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Pet Store", "version": "1.0"},
    "servers": [{"url": "/api"}],
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "summary": "List the pets.",
                "parameters": [
                    {"name": "species", "in": "query", "schema": {"type": "string"}},
                    {"$ref": "#/components/parameters/Limit"},
                ],
                "responses": {
                    "200": {
                        "description": "The pets.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/Pet"},
                                }
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "createPet",
                "summary": "Add a pet.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}
                    },
                },
                "responses": {"201": {"$ref": "#/components/responses/OnePet"}},
            },
        },
        "/pets/{petId}": {
            "parameters": [{"$ref": "#/components/parameters/PetId"}],
            "get": {
                "operationId": "getPet",
                "summary": "One pet, by id.",
                "responses": {"200": {"$ref": "#/components/responses/OnePet"}},
            },
            "delete": {
                "operationId": "deletePet",
                "summary": "Remove a pet for good.",
                "responses": {"204": {"description": "Removed."}},
            },
        },
        "/pets/{petId}/age": {
            "parameters": [{"$ref": "#/components/parameters/PetId"}],
            "get": {
                "operationId": "petAge",
                "summary": "A pet's age, in years.",
                "responses": {
                    "200": {
                        "description": "The age.",
                        "content": {"application/json": {"schema": {"type": "integer"}}},
                    }
                },
            },
        },
        "/compare": {
            "get": {
                "summary": "Compare two ages.",
                "description": "Which is older, and by how many years.",
                "parameters": [
                    {"name": "a", "in": "query", "required": True, "schema": {"type": "integer"}},
                    {"name": "b", "in": "query", "required": True, "schema": {"type": "integer"}},
                ],
                "responses": {
                    "200": {
                        "description": "The comparison.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {
                                        "older": {"type": "string"},
                                        "years": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    }
                },
            }
        },
        "/broken": {
            "get": {
                "operationId": "broken",
                "summary": "Always fails on the server.",
                "responses": {"200": {"description": "Never."}},
            }
        },
    },
    "components": {
        "parameters": {
            "PetId": {
                "name": "petId",
                "in": "path",
                "required": True,
                "description": "The pet's id.",
                "schema": {"type": "integer"},
            },
            "Limit": {
                "name": "limit",
                "in": "query",
                "description": "At most this many.",
                "schema": {"type": "integer", "minimum": 1},
            },
        },
        "schemas": {
            "NewPet": {
                "type": "object",
                "required": ["name", "species"],
                "properties": {
                    "name": {"type": "string", "description": "The pet's name."},
                    "species": {"type": "string", "enum": ["cat", "dog"]},
                    "age": {"type": "integer", "nullable": True},
                },
            },
            "Pet": {
                "allOf": [
                    {"$ref": "#/components/schemas/NewPet"},
                    {"type": "object", "properties": {"id": {"type": "integer"}}},
                ]
            },
        },
        "responses": {
            "OnePet": {
                "description": "A pet.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
            }
        },
    },
}


@dataclass
class PetStore:
    """The service's state, and what it saw."""

    pets: dict[int, dict[str, Any]] = field(
        default_factory=lambda: {
            1: {"id": 1, "name": "Tom", "species": "cat", "age": 3},
            2: {"id": 2, "name": "Rex", "species": "dog", "age": 7},
        }
    )
    authorizations: list[str | None] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    store: PetStore

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: object = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        if url.path == "/openapi.json":
            return self._send(200, SPEC)
        self.store.authorizations.append(self.headers.get("Authorization"))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"error": "who are you?"})
        if parts[:1] != ["api"]:
            return self._send(404, {"error": "no such path"})
        parts = parts[1:]
        pets = self.store.pets
        if parts == ["pets"] and method == "GET":
            found = [p for p in pets.values() if p["species"] == query.get("species", p["species"])]
            return self._send(200, found[: int(query.get("limit", len(found)))])
        if parts == ["pets"] and method == "POST":
            length = int(self.headers.get("Content-Length", 0))
            pet = {"id": max(pets) + 1, **json.loads(self.rfile.read(length))}
            pets[pet["id"]] = pet
            return self._send(201, pet)
        if parts == ["compare"]:
            a, b = int(query["a"]), int(query["b"])
            return self._send(200, {"older": "a" if a > b else "b", "years": abs(a - b)})
        if parts == ["broken"]:
            return self._send(500, {"error": "the database is on fire"})
        if len(parts) >= 2 and parts[0] == "pets" and parts[1].isdigit():
            pet_id = int(parts[1])
            if pet_id not in pets:
                return self._send(404, {"error": f"no pet {pet_id}"})
            if parts[2:] == ["age"]:
                time.sleep(DELAY)
                return self._send(200, pets[pet_id]["age"])
            if method == "DELETE":
                del pets[pet_id]
                return self._send(204)
            return self._send(200, pets[pet_id])
        return self._send(404, {"error": "no such path"})

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")


@contextmanager
def serve() -> Iterator[tuple[str, PetStore]]:
    """Serve a fresh pet store on a free loopback port; yield its URL and its state."""
    store = PetStore()
    handler = type("Handler", (_Handler,), {"store": store})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", store
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
