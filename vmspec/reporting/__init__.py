"""Reporters: turn a checker Report into text, a rich console view, JSON, JUnit XML or GitHub
workflow annotations. They build strings; only the front-ends write them out."""
