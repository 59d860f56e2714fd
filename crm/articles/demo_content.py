"""Three demo articles in the coach's voice (her facts and structure, our words)."""

from __future__ import annotations

DEMO_ARTICLES = [
    {
        "slug": "best-strength-exercises-runners-knee-pain",
        "title": "Best strength exercises runners do for knee pain",
        "summary": "Squats and lunges rarely fix sore knees. Train the hips in every direction "
        "they move instead — here is how, with exercises you can start today.",
        "tags": "knee pain, strength, hips",
        "days_ago": 21,
        "body": """\
If your knees ache when you run, the usual advice is to do more squats and lunges. Plenty of
runners try exactly that, stick with it for weeks, and end up with knees that feel no better.
Here is a different place to put your effort.

## Your hips decide where your knee goes

The knee is a simple hinge: it bends and it straightens. The hip is the opposite. It moves
forward and back, out to the side and across, and it turns in and out. Every time your foot
lands, your hips decide where the leg sits under you — whether it stays lined up, bows out
or drifts in toward the other knee.

So when the knee hurts, it is often paying for what the hip above it is not controlling.
Strengthening the hinge does little; strengthening the joint that steers it does a lot.

## Train the hips in every direction

Pick exercises that cover each way the hip moves:

- leg forward
- leg back
- leg out, away from the other leg
- leg in, toward the other leg
- turning the leg out
- turning the leg in

Do some with the knee straight and some with it bent.

[[exercise:side-lying-leg-raise]]

[[exercise:clamshell]]

## Mix up how you do them

Variety is the point. You do not need a gym:

- standing, lying down — some even sitting on a chair
- with body weight, ankle weights, dumbbells, elastic bands or the machines at the gym

[[exercise:glute-bridge]]

[[exercise:seated-pillow-squeeze]]

Start with two sets of each, two or three days a week, and keep the movements slow and
controlled. If an exercise makes your knee pain worse, skip it and tell your coach.

[[cta]]
""",
    },
    {
        "slug": "how-bad-is-running-for-my-knees",
        "title": "How bad is running for my knees?",
        "summary": "Running is not the enemy of your knees. How much you add, how fast, and how "
        "well your hips steer the leg matter far more.",
        "tags": "knee pain, running",
        "days_ago": 12,
        "body": """\
It is the question I hear on almost every free call: "Is running wrecking my knees?" The short
answer is that running itself is rarely the problem. The way we come back to it often is.

## What usually goes wrong

- **Too much, too soon.** After a break, the heart and lungs come back faster than tendons and
  joints. Adding distance because you *feel* fit is the classic trap.
- **Weak hip control.** When the hips do not hold the leg in line, the knee takes loads it was
  never meant to steer.
- **Pushing through pain.** A niggle that is ignored for weeks becomes an injury that stops you
  for months.

## What helps

1. **Run/walk.** Short running intervals with walking breaks let your legs adapt while you
   still build time on your feet.
2. **Hip strength, twice a week or more**, in every direction the hip moves.
3. **A simple pain rule.** Mild discomfort that settles by the next morning is usually fine.
   Pain that changes how you run, or is worse the next day, means ease off.

[[exercise:standing-side-leg-raise]]

Everyone's knees are different, and this is general guidance rather than a diagnosis. If you
have swelling, locking or pain that keeps getting worse, see a physical therapist or doctor.

[[cta]]
""",
    },
    {
        "slug": "run-without-walking",
        "title": "Run without walking",
        "summary": "From run/walk intervals to 30 minutes of continuous running, step by step — "
        "and why walking breaks are not cheating on race day.",
        "tags": "run-walk, 5k, rundisney",
        "days_ago": 4,
        "body": """\
Running thirty minutes without a walking break feels out of reach for many of my clients at the
start. It is closer than you think, if you build up patiently.

## The ladder

Start where you are today — for some that is one minute of running and two of walking. Each
week, when the previous step felt comfortable and pain-free, move one rung up:

1. Longer running intervals
2. Shorter walking breaks
3. Fewer, longer blocks
4. Ten, then twenty, then thirty minutes without stopping

A step that hurt or felt like a struggle gets repeated. Repeating a week is not failing — it is
how the plan keeps you healthy.

[[cta]]

## On race day, walking is a strategy

For a runDisney 5K you need to hold about 16 minutes per mile to stay ahead of the sweepers.
Planned walk breaks, taken early, often get runners to the finish faster and fresher than
running until they have to stop.

## Keep the hips strong

The runners who climb the ladder fastest keep doing their hip work all the way through.

[[exercise:banded-side-step]]
""",
    },
]
