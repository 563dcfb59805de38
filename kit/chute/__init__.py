"""The validator's chute: obtain and render its template, verify the integrity hash, dry-run, rehearse.

Usage:
    from kit.chute.official import render_official, verify_text
    from kit.chute.dryrun import DryRun
    from kit.chute.rehearse import rehearse
"""
