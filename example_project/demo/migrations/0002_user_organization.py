from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("demo", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="workos_organization_id",
            field=models.CharField(
                blank=True,
                help_text="The organization this person belongs to (org_01H...), if any.",
                max_length=64,
                verbose_name="WorkOS organization ID",
            ),
        ),
        migrations.AddField(
            model_name="user",
            name="organization_admin",
            field=models.BooleanField(
                default=False,
                help_text="May connect and disconnect the organization's shared connections.",
                verbose_name="organization administrator",
            ),
        ),
    ]
