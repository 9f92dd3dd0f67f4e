"""The fault campaign's modules, from benchmarks/, as fixtures (loaded once, by path)."""

from __future__ import annotations

from types import ModuleType

import pytest
from support.benchmarks import load_benchmark


@pytest.fixture(scope="session")
def faults_dag() -> ModuleType:
    """`benchmarks/faults_dag.py`."""
    return load_benchmark("faults_dag")


@pytest.fixture(scope="session")
def faults_http() -> ModuleType:
    """`benchmarks/faults_http.py`."""
    return load_benchmark("faults_http")


@pytest.fixture(scope="session")
def faults_mcp() -> ModuleType:
    """`benchmarks/faults_mcp.py`."""
    return load_benchmark("faults_mcp")


@pytest.fixture(scope="session")
def faults_resume() -> ModuleType:
    """`benchmarks/faults_resume.py`."""
    return load_benchmark("faults_resume")


@pytest.fixture(scope="session")
def faults_secrets() -> ModuleType:
    """`benchmarks/faults_secrets.py`."""
    return load_benchmark("faults_secrets")


@pytest.fixture(scope="session")
def faults_state() -> ModuleType:
    """`benchmarks/faults_state.py`."""
    return load_benchmark("faults_state")


@pytest.fixture(scope="session")
def faults_text() -> ModuleType:
    """`benchmarks/faults_text.py`."""
    return load_benchmark("faults_text")
